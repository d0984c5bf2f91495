"""Which contact fields a template prints with nothing to fall back on: a
contact without one is skipped at send time (a message never goes out with a
hole in it), so saving such a template answers with a warning."""

from collections.abc import Iterator

from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

# Fields every contact a message goes to has.
ALWAYS_THERE = frozenset({"id", "email", "tags"})
_parser = SandboxedEnvironment()


def unguarded(source: str) -> list[str]:
    """`contact.X` printed without `| default(...)`, `or`, or an `if` around it."""
    tree = _parser.parse(source)
    found = {
        f"contact.{node.attr}"
        for output in _outputs(tree)
        for node in _printed(output)
        if node.attr not in ALWAYS_THERE
    }
    return sorted(found)


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
