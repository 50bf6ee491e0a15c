"""Sphinx configuration of the course website; built by ``python -m tools.build_site``.

The notebooks are rendered with their stored outputs and never executed. Nothing here reaches
the network, at build time or in the reader's browser: no intersphinx, no remote images; the
theme's assets and MathJax (sphinx-mathjax-offline) are copied into ``_static``.
``tests/test_site_browser.py`` opens every page with the network blocked. (A notebook saved with
widget state would make myst-nb link the widget manager from a CDN: show a screenshot instead.)
"""

project = "GNN recommenders, step by step"
author = "the gnn-recsys-kit authors"
copyright = "the gnn-recsys-kit authors; MovieLens data © GroupLens Research"
language = "en"

extensions = [
    "myst_nb",
    "sphinx_external_toc",
    "sphinx_copybutton",  # a copy button on every code cell
    "sphinx-mathjax-offline",  # MathJax 3 copied into _static/mathjax: equations need no CDN
]
external_toc_path = "_toc.yml"
external_toc_exclude_missing = False
exclude_patterns = ["_fragments", "**.ipynb_checkpoints", ".doctrees"]

nb_execution_mode = "off"  # the committed outputs are the content; never re-run at build time
myst_enable_extensions = ["colon_fence", "dollarmath", "amsmath"]
myst_heading_anchors = 3  # `[text](#a-heading)` links inside a page resolve

html_theme = "sphinx_book_theme"
html_static_path = ["_static"]
html_css_files = ["course.css"]  # a wider text column: 100-character code lines fit at 1280 px
html_title = project
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "use_download_button": True,
    "show_toc_level": 2,
}
