"""The old call spellings of `keras_entropy.ops`, kept for one release.

Every public function of `keras_entropy.ops` takes its first argument (the
kernel, or the tensor it works on) positionally and everything else by
keyword, and the volume functions name their form `form="volume" |
"normalized"` as `DenseEntropy` and `ConvEntropy` do. `keyword_only` lets
the earlier spellings through for one release with a `DeprecationWarning`:
arguments after the first passed by position (in the function's old order)
and the bool `normalized=` of the volume functions.
"""

import functools
import inspect
import warnings


def _normalized_to_form(normalized):
    return "normalized" if normalized else "volume"


def keyword_only(*old_order):
    """Decorate a function whose parameters after the first are keyword-only.

    Args:
        *old_order: the names, in order, of the parameters the function took
            by position after the first before they became keyword-only
            (`"normalized"` for the old bool that `form` replaces). A call
            with positional arguments after the first binds them to these
            names and warns.

    The decorated function keeps its name, docstring and signature
    (`inspect.signature` shows the keyword-only parameters). A call with
    `normalized=` (by keyword or by position) is passed on as
    `form="normalized"` (true) or `form="volume"` (false), with a warning.
    """

    def decorate(func):
        parameters = inspect.signature(func).parameters
        first, *rest = parameters
        takes_form = "form" in parameters
        for name in rest:
            if parameters[name].kind is not inspect.Parameter.KEYWORD_ONLY:
                raise TypeError(f"{func.__name__}: parameter `{name}` must be keyword-only.")
        for name in old_order:
            if name not in parameters and not (name == "normalized" and takes_form):
                raise TypeError(f"{func.__name__}: `{name}` is not a parameter.")
        qualname = f"keras_entropy.ops.{func.__name__}"

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            advice = []
            if len(args) > 1:
                extra = args[1:]
                if len(extra) > len(old_order):
                    raise TypeError(
                        f"{qualname}() takes at most {1 + len(old_order)} positional arguments "
                        f"({len(args)} given); pass every argument after `{first}` by keyword."
                    )
                names = old_order[: len(extra)]
                for name, value in zip(names, extra):
                    if name in kwargs:
                        raise TypeError(f"{qualname}() got multiple values for argument '{name}'.")
                    kwargs[name] = value
                spelled = ", ".join(f"{'form' if n == 'normalized' else n}=..." for n in names)
                advice.append(f"pass the arguments after `{first}` by keyword: {func.__name__}({first}, {spelled})")
            if takes_form and "normalized" in kwargs:
                normalized = kwargs.pop("normalized")
                if "form" in kwargs:
                    raise TypeError(f"{qualname}() takes `form`; `normalized` is its deprecated spelling, not both.")
                kwargs["form"] = _normalized_to_form(normalized)
                advice.append(f"`normalized={normalized!r}` is `form={kwargs['form']!r}`")
            if advice:
                warnings.warn(
                    f"{qualname}(): deprecated call, which will stop working in the next release; "
                    + "; ".join(advice)
                    + ".",
                    DeprecationWarning,
                    stacklevel=2,
                )
            return func(*args[:1], **kwargs)

        return wrapper

    return decorate
