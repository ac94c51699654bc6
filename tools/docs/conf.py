"""Sphinx configuration of the imconv manual (`make docs`).

The source tree is assembled by tools/docs/site.py under build/docs/src:
README.md (the front page), the guide's chapters in docs/, and the
reference pages generated from include/imconv.h in docs/reference/.
"""
import os

project = "imconv"
author = "the imconv authors"
release = version = os.environ.get("IMCONV_DOCS_VERSION", "")
root_doc = "README"
extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
# Every heading up to level 4 gets an anchor, as GitHub gives them, so the
# `file.md#heading` links of the chapters work on the site too.
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence"]
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_title = "imconv manual"
html_theme_options = {"show_relbars": True, "fixed_sidebar": True}
html_sidebars = {"**": ["about.html", "searchbox.html", "navigation.html", "relations.html"]}
# Offline: nothing is fetched from the network while building.
html_use_opensearch = ""
suppress_warnings: list = []
nitpicky = True
