"""The seed question's names for everything in a network: X1, H4, Out, W13, b_H1.

Names (docs/CONTRACT.md section 1): inputs ``X1..Xn0``; hidden neurons ``H1, H2, ...``
numbered on across all hidden layers; the output ``Out`` when there is one, else
``Out1..OutK``; targets ``Y`` / ``Y1..YK``; weights ``W1, W2, ...`` numbered row by
row, layer after layer, so that H1 = X1·W1 + X2·W2 in the seed network and W13, W14
feed Out; the bias of a neuron ``b_<neuron>``.
"""

from __future__ import annotations

from functools import lru_cache

from .errors import UnknownWeightError, brief

__all__ = ["Names"]

# No network has 10**20 weights: a longer number is no weight's.
_MAX_WEIGHT_DIGITS = 20


class Names:
    """The seed question's names for a network with the given layer sizes.

    Parameters
    ----------
    layers : tuple of int
        Sizes n0 ... nL.

    Examples
    --------
    >>> names = Names.of((2, 3, 2, 1))
    >>> names.nodes[1], names.nodes[3], names.weights[1][0][0], names.weights[2][0]
    (['H1', 'H2', 'H3'], ['Out'], 'W7', ['W13', 'W14'])
    """

    def __init__(self, layers: tuple[int, ...]) -> None:
        self.layers = layers
        depth = len(layers) - 1
        nodes: list[list[str]] = [[f"X{i + 1}" for i in range(layers[0])]]
        hidden = 0
        for size in layers[1:depth]:
            nodes.append([f"H{hidden + i + 1}" for i in range(size)])
            hidden += size
        outputs = layers[depth]
        nodes.append(["Out"] if outputs == 1 else [f"Out{k + 1}" for k in range(outputs)])
        self.nodes = nodes
        self.targets = ["Y"] if outputs == 1 else [f"Y{k + 1}" for k in range(outputs)]
        # weights[l][i][j]: edge from node j of layer l to node i of layer l+1.
        self.weights: list[list[list[str]]] = []
        self.weight_offsets: list[int] = []
        count = 0
        for src, dst in zip(layers[:-1], layers[1:], strict=True):
            self.weight_offsets.append(count)
            self.weights.append(
                [[f"W{count + i * src + j + 1}" for j in range(src)] for i in range(dst)]
            )
            count += src * dst
        self.weight_count = count
        self.biases = [[f"b_{name}" for name in layer] for layer in nodes[1:]]
        self._node_index: dict[str, tuple[int, int]] | None = None

    @staticmethod
    @lru_cache(maxsize=256)
    def of(layers: tuple[int, ...]) -> Names:
        """Return the (cached) names for these layer sizes."""
        return Names(layers)

    def locate(self, weight: str) -> tuple[int, int, int]:
        """Return ``(l, i, j)`` for a weight name: layer l (1-based), row i, column j.

        Raises
        ------
        UnknownWeightError
            If the name is not a weight of this network.
        """
        number = _weight_number(weight)
        if number is None or not 1 <= number <= self.weight_count:
            raise UnknownWeightError(
                "weight",
                f"expected a weight name W1..W{self.weight_count}, got {brief(weight)}",
            )
        index = number - 1
        for l, offset in reversed(list(enumerate(self.weight_offsets, start=1))):
            if index >= offset:
                src = self.layers[l - 1]
                row, col = divmod(index - offset, src)
                return l, row, col
        raise AssertionError("unreachable: weight offsets start at 0")

    def locate_node(self, name: str) -> tuple[int, int]:
        """Return ``(l, i)`` of a neuron's name (``X2``, ``H4``, ``Out``): its layer and row.

        Raises
        ------
        UnknownWeightError
            If no neuron of this network has that name.
        """
        found = self._nodes().get(name) if isinstance(name, str) else None
        if found is None:
            raise UnknownWeightError("node", f"expected a neuron name such as "
                                     f"{self.nodes[0][0]}, {self.nodes[-1][0]}"
                                     f"{', ' + self.nodes[1][0] if len(self.nodes) > 2 else ''}"
                                     f", got {brief(name)}")
        return found

    def locate_parameter(self, name: str) -> tuple[int, int, int | None]:
        """Return ``(l, i, j)`` of a weight, or ``(l, i, None)`` of a bias (``b_H4``).

        Raises
        ------
        UnknownWeightError
            If the name is neither a weight nor a bias of this network.
        """
        if isinstance(name, str) and name.startswith("b_"):
            node = self._nodes().get(name[2:])
            if node is not None and node[0] > 0:
                return node[0], node[1], None
        elif _weight_number(name) is not None:
            return self.locate(name)
        raise UnknownWeightError(
            "weight", f"expected a weight W1..W{self.weight_count} or a bias "
            f"{self.biases[0][0]}..{self.biases[-1][-1]}, got {brief(name)}")

    def _nodes(self) -> dict[str, tuple[int, int]]:
        if self._node_index is None:
            self._node_index = {name: (l, i) for l, layer in enumerate(self.nodes)
                                for i, name in enumerate(layer)}
        return self._node_index

    def weight_index(self, weight: str) -> int:
        """The position of a weight among all weights (``W1`` is 0), checked like :meth:`locate`."""
        self.locate(weight)
        number = _weight_number(weight)
        assert number is not None  # locate() accepted the name
        return number - 1

    def __repr__(self) -> str:
        return f"Names(layers={list(self.layers)})"


def _weight_number(name: str) -> int | None:
    digits = name[1:] if isinstance(name, str) and name.startswith("W") else ""
    # ASCII digits without a leading zero: W01 or W１ is not the name W1; and a bounded
    # length (int() of 5,000 digits raises).
    if not (digits.isascii() and digits.isdigit()) or digits.startswith("0") \
            or len(digits) > _MAX_WEIGHT_DIGITS:
        return None
    return int(digits)

