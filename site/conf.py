"""Sphinx configuration of the course website; built by ``python -m tools.build_site``.

The notebooks are rendered with their stored outputs and never executed. Nothing here reaches
the network at build time: no intersphinx, no remote images; the theme's assets are bundled
(MathJax and the widget manager are only linked from the pages).
"""

project = "GNN recommenders, step by step"
author = "the gnn-recsys-kit authors"
copyright = "the gnn-recsys-kit authors; MovieLens data © GroupLens Research"
language = "en"

extensions = ["myst_nb", "sphinx_external_toc"]
external_toc_path = "_toc.yml"
external_toc_exclude_missing = False
exclude_patterns = ["_fragments", "**.ipynb_checkpoints", ".doctrees"]

nb_execution_mode = "off"  # the committed outputs are the content; never re-run at build time
myst_enable_extensions = ["colon_fence", "dollarmath", "amsmath"]
myst_heading_anchors = 3  # `[text](#a-heading)` links inside a page resolve

html_theme = "sphinx_book_theme"
html_title = project
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "use_download_button": True,
    "show_toc_level": 2,
}
