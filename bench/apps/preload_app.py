# The app of bench/preload.sh: what a real service loads at import time, a
# framework (Debian's python3-flask, with Werkzeug and Jinja2) and a large
# read-only table (think i18n catalogue, routing table, small ML model).
from flask import Flask, jsonify

TABLE = {'key-%06d' % i: ('value %d ' % i) * 4 for i in range(250_000)}
app = Flask(__name__)


@app.route('/item/<key>')
def item(key):
    return jsonify(key=key, value=TABLE.get(key))
