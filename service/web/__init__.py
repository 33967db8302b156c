"""The workbench's web pages (server-rendered, Vietnamese by default, English switchable).

``pages.router`` holds the pages; ``pages.STATIC_DIR`` the stylesheet, the
scripts and the icon that ``/static`` serves (no CDN, no build step).
"""
