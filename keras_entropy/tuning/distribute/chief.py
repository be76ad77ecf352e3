"""The chief's side: serve the (fault-tolerant) oracle until the search is done."""

import contextlib
import io
import os
import time

from keras_entropy.tuning import _keras_tuner_compat as compat


def serve_chief(tuner, poll_interval):
    """Serve `tuner.oracle` over gRPC until every worker was told to stop or forgotten.

    KerasTuner's `start_server`, polling every `poll_interval` seconds and
    calling the oracle's `reap()` (see `keras_entropy.tuning.oracle`) at
    each poll. The address is `KERASTUNER_ORACLE_IP:KERASTUNER_ORACLE_PORT`.

    Raises:
        OSError: the address cannot be listened on.
    """
    from concurrent import futures

    import grpc

    class Servicer(compat.oracle_servicer_class()):
        def GetTrial(self, request, context):
            # Heartbeats: KerasTuner 1.4's Parent.to_proto prints a debug line for
            # every conditional hyperparameter; keep the chief's log readable.
            with contextlib.redirect_stdout(io.StringIO()):
                return super().GetTrial(request, context)

    oracle = tuner.oracle
    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = Servicer(oracle)
    compat.add_oracle_servicer(servicer, server)
    if server.add_insecure_port(address) == 0:
        raise OSError(f"The chief cannot listen on {address} (port in use?).")
    server.start()
    print(f"oracle: listening on {address}", flush=True)
    try:
        while True:
            time.sleep(poll_interval)
            oracle.reap()
            if servicer.stop_triggered and compat.chief_may_exit(oracle):
                break
    finally:
        server.stop(grace=1.0).wait(5.0)


__all__ = ["serve_chief"]
