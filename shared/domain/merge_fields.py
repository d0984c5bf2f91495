"""Which contact fields a template prints with nothing to fall back on: a
contact without one is skipped at send time (a message never goes out with a
hole in it), so saving such a template answers with a warning."""

from collections.abc import Iterable, Iterator

from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

# Fields every contact an email goes to has.
ALWAYS_THERE = frozenset({"id", "email", "tags"})
# ... a text message (SMS, WhatsApp) goes to.
TEXTED_HAS = frozenset({"id", "phone", "tags"})
# ... any contact has: what an internal notification about it can count on.
EVERY_CONTACT_HAS = frozenset({"id", "tags"})
_parser = SandboxedEnvironment()


def unguarded(source: str, always: frozenset[str] = ALWAYS_THERE) -> list[str]:
    """`contact.X` printed without `| default(...)`, `or`, or an `if` around it."""
    tree = _parser.parse(source)
    found = {
        f"contact.{node.attr}"
        for output in _outputs(tree)
        for node in _printed(output)
        if node.attr not in always
    }
    return sorted(found)


def skip_warnings(step_id: str, templates: Iterable[str | None], always: frozenset[str]) -> list[str]:
    """A step's warnings: each field its templates print with nothing to fall back on."""
    fields = sorted({f for t in templates if t for f in unguarded(t, always)})
    return [
        f"step '{step_id}': {field} is printed without a default; "
        "contacts without it are skipped (missing merge field)"
        for field in fields
    ]


def syntax_error(source: str) -> str | None:
    """What is wrong with a template's syntax, if anything."""
    try:
        _parser.parse(source)
    except TemplateSyntaxError as error:
        return f"template error on line {error.lineno}: {error.message}"
    return None


def _outputs(node: nodes.Node) -> Iterator[nodes.Node]:
    """The printed expressions of the template, outside `{% if %}` blocks (a
    block that tests a field usually guards it)."""
    if isinstance(node, nodes.If):
        return
    if isinstance(node, nodes.Output):
        yield from (n for n in node.nodes if not isinstance(n, nodes.TemplateData))
        return
    for child in node.iter_child_nodes():
        yield from _outputs(child)


def _printed(node: nodes.Node) -> Iterator[nodes.Getattr]:
    match node:
        case nodes.Filter(name="default" | "d"):
            return
        case nodes.Or():
            yield from _printed(node.right)  # The left side falls back on the right.
            return
        case nodes.CondExpr():
            # `a if test else b`: the test guards `a`; `b` is printed as it is.
            if node.expr2 is not None:
                yield from _printed(node.expr2)
            return
        case nodes.Getattr(node=nodes.Name(name="contact")):
            yield node
            return
    for child in node.iter_child_nodes():
        yield from _printed(child)
