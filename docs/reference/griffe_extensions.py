"""Griffe extensions for the API reference (loaded by ``mkdocs.yml``; not part of the package).

:class:`SphinxRoles`: Sphinx roles in docstrings become cross-references. bnnmip's docstrings
name other objects the Sphinx way (``:func:`solve```, ``:class:`~bnnmip.milp.MilpProblem```,
``:mod:`.contract```). mkdocstrings renders Markdown, where such a role would show as ``:func:``
followed by code. This extension resolves each role's target in the scope of the documented
object (its members, its module's imports, then absolute paths) and replaces the role by an
*optional* autorefs cross-reference: a link where the target is documented on some page, plain
code where it is not (private modules), never a warning. A target that does not resolve stays
plain code (the role's text, ``~`` applied). Two other reST habits of the docstrings' free text
(before the first numpy section, which griffe parses itself) become Markdown: a doctest run
(``>>>`` lines and their output) a fenced ``pycon`` block instead of nested quotes, and a
paragraph's closing ``::`` before an indented literal block a single colon.

:class:`AttrsInit`: griffe reads the sources without importing them, so it does not see the
``__init__`` that attrs generates; this extension writes it from the annotated fields (in
order, base classes first, ``kw_only`` and ``attrs.field(default=..., factory=...,
init=False, kw_only=True, alias=...)`` applied, a leading ``_`` dropped as attrs does), so
``Architecture(n_inputs, hidden, n_classes, ...)`` shows its signature.
"""

from __future__ import annotations

import re
from typing import Any

import griffe
from griffe import Expr, ExprCall, Parameter, ParameterKind, Parameters

ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|data|attr|exc|obj|const):`(~?)([^`<>]+)`")
SECTION = re.compile(r"^\w[\w ]*\n-{3,}$", re.MULTILINE)  # a numpy section header
LITERAL = re.compile(r"(\S)::\n\n(?=    )")  # "...group::", blank line, indented block


def _free_text_to_markdown(text: str) -> str:
    """Fence doctest runs and drop the reST ``::`` in the text before the first section."""
    section = SECTION.search(text)
    head, tail = (text[: section.start()], text[section.start():]) if section else (text, "")
    out: list[str] = []
    in_doctest = False
    for line in head.split("\n"):
        if line.startswith(">>>") and not in_doctest:
            out.append("```pycon")
            in_doctest = True
        elif in_doctest and not line.strip():
            out.append("```")
            in_doctest = False
        out.append(line)
    if in_doctest:
        out.append("```")
    return LITERAL.sub(r"\1:\n\n", "\n".join(out)) + tail


def _exists(loader: griffe.GriffeLoader, path: str) -> bool:
    try:
        loader.modules_collection[path]
    except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return False
    return True


def _module_of(obj: griffe.Object) -> griffe.Object:
    while not obj.is_module and obj.parent is not None:
        obj = obj.parent
    return obj


def _resolve(obj: griffe.Object, target: str, loader: griffe.GriffeLoader) -> str | None:
    if target.startswith("."):  # relative to the package, as Python imports read
        module = _module_of(obj)
        base = module.path.split(".")
        if not module.is_init_module:
            base = base[:-1]
        dots = len(target) - len(target.lstrip("."))
        base = base[: len(base) - (dots - 1)] if dots > 1 else base
        path = ".".join([*base, target.lstrip(".")])
        return path if _exists(loader, path) else None
    head, _, rest = target.partition(".")
    scope: griffe.Object | None = obj
    while scope is not None:  # members and imports of the object, its class, its module
        try:
            path = scope.resolve(head)
        except (griffe.NameResolutionError, griffe.AliasResolutionError, KeyError):
            scope = scope.parent
            continue
        path = f"{path}.{rest}" if rest else path
        if _exists(loader, path):
            return path
        break
    return target if _exists(loader, target) else None


def _rewrite(obj: griffe.Object, loader: griffe.GriffeLoader) -> None:
    docstring = obj.docstring
    if docstring is None:
        return
    docstring.value = _free_text_to_markdown(docstring.value)
    if ":`" not in docstring.value:
        return

    def link(match: re.Match) -> str:
        tilde, target = match.groups()
        target = target.strip()
        title = target.rsplit(".", 1)[-1] if tilde else target
        path = _resolve(obj, target, loader)
        if path is None:
            return f"`{title}`"
        return f'<autoref identifier="{path}" optional><code>{title}</code></autoref>'

    docstring.value = ROLE.sub(link, docstring.value)


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles into optional cross-references, doctests into fences, once loaded."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        """Walk every object of the package (aliases excluded: their docstring is the target's)."""
        stack: list[griffe.Object] = [pkg]
        while stack:
            obj = stack.pop()
            _rewrite(obj, loader)
            stack.extend(member for member in obj.members.values() if not member.is_alias)

    on_package_loaded = on_package  # griffe 1.x's name for the hook


ATTRS_DECORATORS = {"attrs.define", "attrs.frozen", "attrs.mutable", "attr.s", "attr.attrs", "attr.define",
                    "attr.frozen", "attr.mutable"}
ATTRS_FIELDS = {"attrs.field", "attr.field", "attr.ib", "attr.attrib"}


def _call_args(expr: object) -> dict[str, Any]:
    if not isinstance(expr, ExprCall):
        return {}
    return {arg.name: arg.value for arg in expr.arguments if getattr(arg, "name", None)}


def _attrs_decorator(cls: griffe.Class) -> Expr | None:
    for decorator in cls.decorators:
        value = decorator.value
        if isinstance(value, Expr):
            call = value.function if isinstance(value, ExprCall) else value
            if getattr(call, "canonical_path", None) in ATTRS_DECORATORS:
                return value
    return None


def _attrs_fields(cls: griffe.Class) -> list[Parameter]:
    kw_only = str(_call_args(_attrs_decorator(cls)).get("kw_only")) == "True"
    parameters = []
    for member in cls.members.values():
        if member.is_alias or not member.is_attribute or member.annotation is None:
            continue
        if "property" in member.labels or "instance-attribute" not in member.labels:
            continue  # properties and ClassVars are not fields
        value = member.value
        field = _call_args(value) if getattr(getattr(value, "function", None), "canonical_path", None) in \
            ATTRS_FIELDS else None
        if field is not None and str(field.get("init")) == "False":
            continue
        if field is None:
            default = value
        elif "default" in field:
            default = field["default"]
        elif "factory" in field:
            factory = field["factory"]
            default = f"{factory}()" if "lambda" not in str(factory) else "<factory>"
        else:
            default = None
        name = str(field["alias"]).strip("\"'") if field and "alias" in field else member.name.lstrip("_")
        kind = ParameterKind.keyword_only if kw_only or (field and str(field.get("kw_only")) == "True") \
            else ParameterKind.positional_or_keyword
        parameters.append(Parameter(name, annotation=member.annotation, kind=kind, default=default,
                                    docstring=member.docstring))
    return parameters


def _set_attrs_init(cls: griffe.Class) -> None:
    if "__init__" in cls.members or _attrs_decorator(cls) is None:
        return
    try:
        mro = [parent for parent in reversed(cls.mro()) if _attrs_decorator(parent) is not None]
    except ValueError:
        mro = []
    fields: dict[str, Parameter] = {}
    for owner in [*mro, cls]:
        fields.update((p.name, p) for p in _attrs_fields(owner))
    ordered = [p for p in fields.values() if p.kind is not ParameterKind.keyword_only]
    ordered += [p for p in fields.values() if p.kind is ParameterKind.keyword_only]
    self_param = Parameter("self", annotation=None, kind=ParameterKind.positional_or_keyword, default=None)
    cls.set_member("__init__", griffe.Function("__init__", lineno=0, endlineno=0, parent=cls,
                                               parameters=Parameters(self_param, *ordered), returns="None"))


class AttrsInit(griffe.Extension):
    """Give attrs classes the ``__init__`` attrs generates at run time."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        """Walk the package's modules and classes (aliases excluded)."""
        stack: list[griffe.Object] = [pkg]
        while stack:
            obj = stack.pop()
            if obj.is_class:
                _set_attrs_init(obj)
            stack.extend(m for m in obj.members.values() if not m.is_alias and (m.is_module or m.is_class))

    on_package_loaded = on_package  # griffe 1.x's name for the hook
