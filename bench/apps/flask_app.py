# A small Flask app with one JSON route (Debian's python3-flask).
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.route('/json')
def json_route():
    return jsonify(message='Hello, World!', path=request.path,
                   items=[{'id': i, 'name': 'item%d' % i} for i in range(10)])
