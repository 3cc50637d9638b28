"""A library's config dataclass fields and their types, read from its source files without importing it.

``--set training.learning_rate=abc`` is checked against trl's ``SFTConfig`` and ``--set lora.r=x``
against peft's ``LoraConfig``, but importing trl takes seconds (torch, transformers), too long to
refuse a typo. Those classes are plain dataclasses, so their fields can be read with ``ast``: the
class is found through the package's import statements (``TYPE_CHECKING`` ones included, which is how
lazily importing packages such as transformers name their classes), the fields are the annotated
names of every dataclass among its bases, and each annotation is evaluated over builtins and
``typing`` alone. An enum of the library found in its source reads as the ``Literal`` of its values,
and ``SomeEnum | str`` as the enum alone (transformers and peft turn the string into the enum, so any
other string fails there, after the model has loaded); any other name (``torch.dtype``) reads as
``Any``, a check looser than the library's own. When the source cannot be read so, the class is
imported after all.
"""
from __future__ import annotations

import ast
import builtins
import dataclasses
import functools
import importlib.util
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

TYPING = {name: getattr(typing, name) for name in (
    "Any", "Optional", "Union", "List", "Dict", "Tuple", "Set", "FrozenSet", "Literal", "Callable", "Sequence",
    "Mapping", "Iterable", "Type")}
NAMES: dict[str, Any] = {**TYPING, **{name: getattr(builtins, name) for name in (
    "int", "float", "str", "bool", "bytes", "dict", "list", "tuple", "set", "frozenset", "type", "object")}}
"""What an annotation may name and still be evaluated; any other name reads as ``Any``."""
TYPING_MODULES = ("typing", "t", "typing_extensions")
ENUM_BASES = ("Enum", "IntEnum", "StrEnum")


class Unreadable(Exception):
    """The source does not say the fields plainly (a base class defined elsewhere than an import says)."""


def dataclass_fields(module: str, name: str, load: Callable[[], type]) -> dict[str, Any]:
    """Field name -> type of the dataclass ``name`` that package ``module`` exports, in the order of
    ``dataclasses.fields`` for a single line of inheritance. Read from source; when that fails,
    ``load()`` imports the class and its fields and type hints are taken from it."""
    try:
        return read_fields(module, name)
    except (Unreadable, OSError, SyntaxError, UnicodeDecodeError, ValueError, RecursionError):
        return imported_fields(load())


def imported_fields(owner: type) -> dict[str, Any]:
    """Field name -> type of an imported dataclass (``Any`` where its hints cannot be evaluated)."""
    try:
        hints = typing.get_type_hints(owner)
    except Exception:  # an annotation naming something its module does not define: names only
        hints = {}
    return {field.name: hints.get(field.name, Any) for field in dataclasses.fields(owner)}


def read_fields(module: str, name: str) -> dict[str, Any]:
    """:func:`dataclass_fields` read from source alone (raises :class:`Unreadable`)."""
    found = _find_class(module, name, frozenset())
    if found is None:
        raise Unreadable(f"no class {name} in {module}")
    fields: dict[str, Any] = {}
    _collect(*found, fields, frozenset())
    if not fields:
        raise Unreadable(f"{module}.{name} has no dataclass fields")
    return fields


@functools.lru_cache(maxsize=64)
def _module_file(module: str) -> tuple[Path, bool] | None:
    """(source file, whether it is a package's ``__init__``) of ``module``; only its top-level package is
    looked up (``find_spec`` of a submodule would import the packages above it)."""
    top, _, rest = module.partition(".")
    spec = importlib.util.find_spec(top)
    if spec is None:
        return None
    if not spec.submodule_search_locations:
        return (Path(spec.origin), False) if not rest and spec.origin and spec.origin.endswith(".py") else None
    for location in spec.submodule_search_locations:
        base = Path(location).joinpath(*rest.split(".")) if rest else Path(location)
        if (base / "__init__.py").is_file():
            return base / "__init__.py", True
        if rest and base.with_name(base.name + ".py").is_file():
            return base.with_name(base.name + ".py"), False
    return None


@functools.lru_cache(maxsize=64)
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_bytes(), filename=str(path))


def _find_class(module: str, name: str, seen: frozenset[tuple[str, str]]) -> tuple[str, ast.ClassDef] | None:
    """(module defining it, its ``class`` statement) for ``name`` as ``module`` binds it."""
    if (module, name) in seen:
        return None
    seen = seen | {(module, name)}
    located = _module_file(module)
    if located is None:
        return None
    path, is_package = located
    tree = _parse(path)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return module, node
    stars = []
    for statement in ast.walk(tree):  # imports anywhere: under TYPE_CHECKING, try/except, if
        if not isinstance(statement, ast.ImportFrom):
            continue
        source = _absolute(module, is_package, statement)
        for alias in statement.names:
            if alias.name == "*":
                stars.append(source)
            elif (alias.asname or alias.name) == name:
                found = _find_class(source, alias.name, seen)
                if found is None:  # ``from .pkg import submodule`` is no class
                    raise Unreadable(f"{module} imports {name} from {source}, which does not define it")
                return found
    for source in stars:
        found = _find_class(source, name, seen)
        if found is not None:
            return found
    return None


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    anchor = parts[: len(parts) - node.level + 1]
    if not anchor:
        raise Unreadable(f"relative import beyond {module}")
    return ".".join(anchor + ([node.module] if node.module else []))


def _collect(module: str, node: ast.ClassDef, fields: dict[str, Any], seen: frozenset[str]) -> None:
    """Add the fields of ``node``'s dataclass bases, then its own (a redeclared field keeps its place,
    as ``dataclasses`` keeps it, and takes the new type)."""
    key = f"{module}.{node.name}"
    if key in seen:
        raise Unreadable(f"{key} inherits from itself")
    for base in node.bases:
        if isinstance(base, ast.Name) and base.id in ("object", "Generic", "Protocol"):
            continue
        if isinstance(base, ast.Subscript):  # Generic[T], SomeBase[T]
            base = base.value
            if isinstance(base, ast.Name) and base.id in ("Generic", "Protocol"):
                continue
        if not isinstance(base, ast.Name):
            raise Unreadable(f"{key}: base class {ast.unparse(base)} is not a plain name")
        found = _find_class(module, base.id, frozenset())
        if found is None:
            raise Unreadable(f"{key}: base class {base.id} not found")
        _collect(*found, fields, seen | {key})
    if not any(_is_dataclass_decorator(decorator) for decorator in node.decorator_list):
        return
    for statement in node.body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            annotation = _unstring(statement.annotation)
            if _names(annotation) & {"ClassVar", "InitVar", "KW_ONLY"}:
                continue
            fields[statement.target.id] = annotation_type(annotation, module)


@functools.lru_cache(maxsize=256)
def enum_values(module: str, name: str) -> tuple[str | int, ...] | None:
    """The values of the enum class ``name`` as ``module`` binds it (its ``NAME = value`` lines), or None
    when ``name`` is not an enum found in the source."""
    try:
        found = _find_class(module, name, frozenset())
        if found is None or not _is_enum(*found, depth=0):
            return None
    except (Unreadable, OSError, SyntaxError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    values = []
    for statement in found[1].body:
        if isinstance(statement, ast.FunctionDef) and statement.name == "_missing_":
            return None  # it may take other values than its members'
        if not isinstance(statement, ast.Assign) or any(
                isinstance(target, ast.Name) and target.id.startswith("_") for target in statement.targets):
            continue
        if not (isinstance(statement.value, ast.Constant) and isinstance(statement.value.value, (str, int))):
            return None  # auto(), a computed value: not all values are known
        values.append(statement.value.value)
    return tuple(values) or None


def _is_enum(module: str, node: ast.ClassDef, depth: int) -> bool:
    for base in node.bases:
        head = _names(base)
        if head & set(ENUM_BASES):
            return True
        if isinstance(base, ast.Name) and depth < 8:
            found = _find_class(module, base.id, frozenset())
            if found is not None and _is_enum(*found, depth=depth + 1):
                return True
    return False


def _is_dataclass_decorator(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return ((isinstance(target, ast.Name) and target.id == "dataclass")
            or (isinstance(target, ast.Attribute) and target.attr == "dataclass"))


def _unstring(node: ast.expr) -> ast.expr:
    """A string annotation (``"torch.dtype"``) parsed into the expression it spells."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            return ast.parse(node.value, mode="eval").body
        except SyntaxError:
            return ast.Name("Any", ast.Load())
    return node


def _names(node: ast.expr) -> set[str]:
    """The bare and attribute names at the head of an annotation (``ClassVar`` of ``typing.ClassVar[int]``)."""
    head = node.value if isinstance(node, ast.Subscript) else node
    return {head.id} if isinstance(head, ast.Name) else {head.attr} if isinstance(head, ast.Attribute) else set()


class _AnyForUnknown(ast.NodeTransformer):
    """Every name outside :data:`NAMES` becomes ``Any``, or the ``Literal`` of its values when it names an
    enum of ``module``; a ``Literal`` or subscripted type naming an unknown, ``Any`` too. Strings are
    forward references, parsed, except inside ``Literal`` (``in_literal``), where they are values."""

    def __init__(self, module: str | None = None, in_literal: bool = False) -> None:
        self.module = module
        self.in_literal = in_literal
        self.unknown = False

    def _enum(self, node: ast.expr) -> tuple[str | int, ...] | None:
        if self.module is None or not isinstance(node, ast.Name) or node.id in NAMES:
            return None
        return enum_values(self.module, node.id)

    def visit_Constant(self, node: ast.Constant) -> ast.expr:
        if isinstance(node.value, str) and not self.in_literal:
            result: ast.expr = self.visit(_unstring(node))
            return result
        return node

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in NAMES or node.id == "None":
            return node
        values = self._enum(node)
        if values:
            return ast.Subscript(ast.Name("Literal", ast.Load()),
                                 ast.Tuple([ast.Constant(value) for value in values], ast.Load()), ast.Load())
        self.unknown = True
        return ast.Name("Any", ast.Load())

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        if isinstance(node.value, ast.Name) and node.value.id in TYPING_MODULES and node.attr in TYPING:
            return ast.Name(node.attr, ast.Load())
        self.unknown = True
        return ast.Name("Any", ast.Load())

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        if isinstance(node.op, ast.BitOr):
            members = _union_members(node)
            if any(self._enum(member) for member in members):
                return self._union(members)
        return self.generic_visit(node)  # type: ignore[return-value]  # a BinOp stays an expression

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        head = _names(node)
        if "Literal" in head:  # the values stay as written; one naming something unknown: Any
            values = _AnyForUnknown(in_literal=True)
            values.visit(node.slice)
            if values.unknown:
                self.unknown = True
                return ast.Name("Any", ast.Load())
            literal = ast.Subscript(ast.Name("Literal", ast.Load()), node.slice, ast.Load())
            if any(isinstance(value, ast.Constant) and isinstance(value.value, str) and "[" in value.value
                   for value in ast.walk(node.slice)):  # a placeholder ('pissa_niter_[number of iters]'): any str
                return ast.BinOp(literal, ast.BitOr(), ast.Name("str", ast.Load()))
            return literal
        if head & {"Union", "Optional"}:
            members = [_unstring(member) for member in (
                node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice])]
            if any(self._enum(member) for member in members):
                return self._union(members + ([ast.Constant(None)] if "Optional" in head else []))
        value = self.visit(node.value)
        if isinstance(value, ast.Name) and value.id == "Any":
            return value  # SomeGeneric[int]: Any
        return ast.Subscript(value, self.visit(node.slice), ast.Load())

    def _union(self, members: list[ast.expr]) -> ast.expr:
        """``SomeEnum | str``: the library turns the string into the enum, so only its values pass."""
        kept = [member for member in members if not (isinstance(member, ast.Name) and member.id == "str")]
        return ast.Subscript(ast.Name("Union", ast.Load()),
                             ast.Tuple([self.visit(member) for member in kept], ast.Load()), ast.Load())


def _union_members(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union_members(node.left) + _union_members(node.right)
    return [_unstring(node)]


def annotation_type(node: ast.expr, module: str | None = None) -> Any:
    """The type an annotation spells over builtins and ``typing``: other names read as ``Any``, an enum
    of ``module`` as the ``Literal`` of its values, ``SomeEnum | str`` as the enum."""
    expression = ast.Expression(_AnyForUnknown(module).visit(_unstring(node)))
    ast.fix_missing_locations(expression)
    try:
        return eval(compile(expression, "<annotation>", "eval"), {"__builtins__": {}}, dict(NAMES))
    except Exception:  # e.g. ``int | "Foo"``: a type the checks cannot use
        return Any
