"""Gene circuits of the `circuit` domain (CIRCUIT-MODEL.md section 1): their text form
`[*]<components>::<XYt>_<XYt>...` (X regulates Y, t = a activates, i inhibits), the state
bytes a checkpoint stores (byte 0 terminal flag, then the n x n matrix of 0 none, 1 a, 2 i
in ascending letter order), and a drawing as a network: components as nodes on a circle,
activation as a pointed arrow, inhibition as a flat-headed (T) arrow, self-loops as loops
outside their node. matplotlib is imported only to draw.
"""
import math
from dataclasses import dataclass, field

MAX_COMPONENTS = 8
MAX_TEXT = 1 + MAX_COMPONENTS + 2 + 4 * MAX_COMPONENTS * MAX_COMPONENTS

ACTIVATION_COLOR = "#1b7837"
INHIBITION_COLOR = "#b2182b"


@dataclass
class Circuit:
    """A parsed circuit: components in the order written, interactions (source, target,
    type) with type 'a' or 'i', and whether it is finished (terminal, leading '*')."""
    components: str
    interactions: list
    terminal: bool = False

    @property
    def text(self):
        tokens = "_".join(s + t + k for s, t, k in self.interactions)
        return ("*" if self.terminal else "") + self.components + "::" + tokens


def parse_circuit(text):
    """Parse a circuit's text form; ValueError with the reason when it is not one."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).split(b"\0", 1)[0].decode("ascii", "replace")
    text = str(text).strip()
    if len(text) > MAX_TEXT:
        raise ValueError("circuit text longer than %d characters" % MAX_TEXT)
    terminal = text.startswith("*")
    body = text[1:] if terminal else text
    if "::" not in body:
        raise ValueError("%r: expected <components>::<interactions>, e.g. ABC::ABa" % text)
    comps, _, rest = body.partition("::")
    if not comps or len(comps) > MAX_COMPONENTS or not all("A" <= c <= "Z" for c in comps):
        raise ValueError("%r: components must be 1 to %d upper-case letters" % (text, MAX_COMPONENTS))
    if len(set(comps)) != len(comps):
        raise ValueError("%r: a component is given twice" % text)
    interactions, seen = [], set()
    for tok in (rest.split("_") if rest else []):
        if len(tok) != 3 or tok[0] not in comps or tok[1] not in comps or tok[2] not in "ai":
            raise ValueError("%r: interaction %r is not of the form XYt with X, Y components, t in a/i"
                             % (text, tok[:16]))
        if (tok[0], tok[1]) in seen:
            raise ValueError("%r: more than one interaction of %s on %s" % (text, tok[0], tok[1]))
        seen.add((tok[0], tok[1]))
        interactions.append((tok[0], tok[1], tok[2]))
    return Circuit(comps, interactions, terminal)


def describe_state(state, components):
    """The text form of a circuit state (bytes: 1 + n*n) for the configured components
    (e.g. 'ABC', from domain.circuit.root), as banyan's describe() writes it; None when the
    bytes are not a circuit state of that size."""
    state = bytes(state)
    n = len(components)
    if n < 1 or len(state) != 1 + n * n or state[0] > 1:
        return None
    letters = sorted(components)
    tokens = []
    for x in range(n):
        for y in range(n):
            v = state[1 + x * n + y]
            if v == 0:
                continue
            if v > 2:
                return None
            tokens.append(letters[x] + letters[y] + ("a" if v == 1 else "i"))
    return ("*" if state[0] else "") + components + "::" + "_".join(tokens)


@dataclass
class CircuitDrawing:
    """What draw_circuit drew: the circuit, node positions (data coordinates), one record
    per interaction ({'source', 'target', 'type': 'a'|'i', 'self_loop', 'head': 'arrow' |
    'bar'}), and the matplotlib axes and artists."""
    circuit: Circuit
    positions: dict
    edges: list
    ax: object = None
    artists: list = field(default_factory=list)

    @property
    def nodes(self):
        return list(self.circuit.components)


def _layout(components):
    n = len(components)
    if n == 1:
        return {components[0]: (0.0, 0.0)}
    pos = {}
    for k, c in enumerate(components):
        ang = math.pi / 2 - 2 * math.pi * k / n  # first on top, clockwise
        if n == 2:
            ang = math.pi - math.pi * k          # side by side
        pos[c] = (math.cos(ang), math.sin(ang))
    return pos


def _unit(dx, dy):
    d = math.hypot(dx, dy) or 1.0
    return dx / d, dy / d


def draw_circuit(state, ax=None, node_radius=0.3, title=None, fontsize=None):
    """Draw a circuit (text form, a Circuit, or text bytes) on `ax` (a new figure when None)
    and return a CircuitDrawing. Activation: pointed arrow (green); inhibition: flat bar, a
    T (red); a self-loop is a loop outside its node. `title` (default: the circuit text)
    is drawn as plain text (no math parsing)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, FancyArrowPatch, ArrowStyle
    from matplotlib.path import Path

    circuit = state if isinstance(state, Circuit) else parse_circuit(state)
    if ax is None:
        _, ax = plt.subplots(figsize=(2.6, 2.6))
    comps = circuit.components
    pos = _layout(comps)
    r = node_radius
    fs = fontsize or (13 if len(comps) <= 4 else 10)
    artists, edges = [], []
    extent = [(x + dx, y + dy) for x, y in pos.values() for dx, dy in ((r, r), (-r, -r))]
    pairs = {(s, t) for s, t, _ in circuit.interactions}

    def style(kind):
        if kind == "a":
            return ArrowStyle("-|>", head_length=0.55, head_width=0.3), ACTIVATION_COLOR
        return ArrowStyle("-[", widthB=0.55, lengthB=0.0), INHIBITION_COLOR

    for s, t, kind in circuit.interactions:
        arrow, color = style(kind)
        (sx, sy), (tx, ty) = pos[s], pos[t]
        if s == t:
            # A loop leaving and re-entering the node on its outer side.
            ox, oy = _unit(sx, sy) if (sx, sy) != (0.0, 0.0) else (0.0, 1.0)
            base = math.atan2(oy, ox)
            a0, a1 = base + 0.65, base - 0.65
            p0 = (sx + r * math.cos(a0), sy + r * math.sin(a0))
            p3 = (sx + r * math.cos(a1), sy + r * math.sin(a1))
            reach = 3.4 * r
            c1 = (sx + reach * math.cos(base + 0.75), sy + reach * math.sin(base + 0.75))
            c2 = (sx + reach * math.cos(base - 0.75), sy + reach * math.sin(base - 0.75))
            path = Path([p0, c1, c2, p3], [Path.MOVETO, Path.CURVE4, Path.CURVE4, Path.CURVE4])
            # The curve stays inside its control points' hull, well inside for these.
            extent += [(sx + 0.8 * (px - sx), sy + 0.8 * (py - sy)) for px, py in (c1, c2)]
            patch = FancyArrowPatch(path=path, arrowstyle=arrow, color=color, lw=1.8,
                                    mutation_scale=14, shrinkA=0, shrinkB=0, zorder=1)
        else:
            rad = 0.22 if (t, s) in pairs else 0.0
            # Start and end on the node outlines, in the direction of the arc's control point.
            mx, my = (sx + tx) / 2, (sy + ty) / 2
            dx, dy = tx - sx, ty - sy
            cx, cy = mx + rad * dy, my - rad * dx
            ux, uy = _unit(cx - sx, cy - sy)
            vx, vy = _unit(cx - tx, cy - ty)
            gap = 0.05 if kind == "i" else 0.0
            p0 = (sx + r * ux, sy + r * uy)
            p1 = (tx + (r + gap) * vx, ty + (r + gap) * vy)
            patch = FancyArrowPatch(p0, p1, arrowstyle=arrow, connectionstyle="arc3,rad=%g" % rad,
                                    color=color, lw=1.8, mutation_scale=14, shrinkA=0, shrinkB=0, zorder=1)
        ax.add_patch(patch)
        artists.append(patch)
        edges.append({"source": s, "target": t, "type": kind, "self_loop": s == t,
                      "head": "arrow" if kind == "a" else "bar"})
    for c in comps:
        x, y = pos[c]
        circ = Circle((x, y), r, facecolor="#eef2f7", edgecolor="#34495e", lw=1.5, zorder=2)
        ax.add_patch(circ)
        label = ax.text(x, y, c, ha="center", va="center", fontsize=fs, fontweight="bold",
                        color="#1c2833", zorder=3, parse_math=False)
        artists += [circ, label]
    xs, ys = [p[0] for p in extent], [p[1] for p in extent]
    half = max(max(xs) - min(xs), max(ys) - min(ys)) / 2 + 0.35 * r
    mx, my = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    ax.set_xlim(mx - half, mx + half)
    ax.set_ylim(my - half, my + half)
    ax.set_aspect("equal")
    ax.axis("off")
    ttl = circuit.text if title is None else title
    if ttl:
        ax.set_title(ttl, fontsize=8, family="monospace", parse_math=False)
    return CircuitDrawing(circuit, pos, edges, ax, artists)
