"""The stack's ceiling: a bare Flask route, served by gunicorn exactly as the app is
(`gunicorn -w 2 load_bare:app`).  It answers a small HTML page, as the app's pages are HTML."""
from flask import Flask

app = Flask(__name__)
PAGE = "<!doctype html><html lang=\"zh-CN\"><title>基准</title><p>你好</p></html>"


@app.route("/")
def index():
    return PAGE
