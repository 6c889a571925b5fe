"""Drawing a network: layers as columns, neurons as circles, weights as edges.

One drawing serves the explorer page (``/explore``) and ``pathgrad draw``
(docs/CONTRACT.md section 9): :func:`scene` reads a network and its analysis,
:func:`svg` and :func:`dot` write it. Every neuron is an element with
``data-node="H1"``, every weight one with ``data-weight="W1"``; the edges of the
highlighted paths carry the class ``on-path``. Edge width follows |w|, colour its
sign (blue positive, orange and dashed negative, so the sign does not rest on
colour alone). Styling is by presentation attributes only, never a ``style``
element or attribute, so a page whose Content-Security-Policy forbids inline
styles can show the SVG as it is, and restyle it with its own stylesheet.

A network of up to :data:`WHOLE_NEURONS` neurons and :data:`WHOLE_WEIGHTS` weights
is drawn whole. A larger one is drawn as one block per layer, with only the neurons
and weights of the highlighted paths inside: thousands of edges are no picture.

This package does no maths: the numbers come from the analysis result
(docs/CONTRACT.md section 2) and the path pages (section 8).
"""

from __future__ import annotations

from .dot import dot
from .scene import DEFAULT_PATHS, WHOLE_NEURONS, WHOLE_WEIGHTS, Highlight, Scene, scene
from .svg import svg

__all__ = ["DEFAULT_PATHS", "WHOLE_NEURONS", "WHOLE_WEIGHTS", "Highlight", "Scene", "dot",
           "scene", "svg"]
