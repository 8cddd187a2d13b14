"""A small Flask application that uses the framework's everyday features.

Run it under gowsgi from the repository root:

    gowsgi examples/flask/app.py --bind 127.0.0.1:8000
    gowsgi --chdir examples/flask app:app -w 4            # the same, by module

Routes:
    GET    /                      plain-text index
    GET    /api/items             JSON list of items
    POST   /api/items             create an item from a JSON body {"name": ..., "qty": ...}
    GET    /api/items/<id>        one item, or a JSON 404 from the error handler
    DELETE /api/items/<id>        delete an item (204)
    POST   /form                  urlencoded form echo (HTML)
    POST   /upload                multipart upload: size and SHA-256 of each file
    GET    /stream?n=5            streaming response (stream_with_context)
    GET    /download              send_file of files/report.csv through wsgi.file_wrapper
    POST   /session/login         form field "user" stored in the signed session cookie
    GET    /session               who is logged in, visit counter
    POST   /session/logout        clear the session
    GET    /prefs?theme=dark      set a plain cookie; GET /prefs reads it back
    GET    /boom                  ValueError turned into a JSON 400 by an error handler
    GET    /crash                 RuntimeError: the 500 error handler answers

Items live in a dict in the process: with several gowsgi workers each worker
has its own (use a database for shared state; see examples/README.md).
"""

import hashlib
import os
import threading

from flask import (Flask, abort, jsonify, make_response, render_template_string,
                   request, send_file, session, stream_with_context)
from werkzeug.exceptions import HTTPException

HERE = os.path.dirname(os.path.abspath(__file__))

app = Flask(__name__)
# A real deployment sets FLASK_SECRET_KEY; the default keeps the example runnable.
app.secret_key = os.environ.get('FLASK_SECRET_KEY', 'gowsgi-example-not-secret')
app.config['MAX_CONTENT_LENGTH'] = 16 * 1024 * 1024
app.config['JSON_SORT_KEYS'] = True

# In-process state. Flask runs each request on whatever thread the server
# uses, so anything module-level that is mutated must be locked.
_items = {}
_next_id = [1]
_lock = threading.Lock()


@app.route('/')
def index():
    rules = sorted('%s %s' % (','.join(sorted(r.methods - {'HEAD', 'OPTIONS'})), r.rule)
                   for r in app.url_map.iter_rules() if r.endpoint != 'static')
    body = 'gowsgi Flask example\n\n' + '\n'.join(rules) + '\n'
    return body, 200, {'Content-Type': 'text/plain; charset=utf-8'}


# ---------------------------------------------------------------- JSON API

@app.get('/api/items')
def list_items():
    with _lock:
        items = [_items[k] for k in sorted(_items)]
    return jsonify(items=items, count=len(items))


@app.post('/api/items')
def create_item():
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get('name'), str) or not data['name']:
        return jsonify(error='send a JSON object with a non-empty "name"'), 400
    qty = data.get('qty', 1)
    if not isinstance(qty, int) or qty < 0:
        raise ValueError('qty must be a non-negative integer')
    with _lock:
        item = {'id': _next_id[0], 'name': data['name'], 'qty': qty}
        _items[item['id']] = item
        _next_id[0] += 1
    resp = jsonify(item)
    resp.status_code = 201
    resp.headers['Location'] = '/api/items/%d' % item['id']
    return resp


@app.get('/api/items/<int:item_id>')
def get_item(item_id):
    with _lock:
        item = _items.get(item_id)
    if item is None:
        abort(404, description='no item %d' % item_id)
    return jsonify(item)


@app.delete('/api/items/<int:item_id>')
def delete_item(item_id):
    with _lock:
        if _items.pop(item_id, None) is None:
            abort(404, description='no item %d' % item_id)
    return '', 204


# ---------------------------------------------------------------- forms and uploads

FORM_PAGE = """<!doctype html>
<title>Form</title>
<h1>Hello, {{ name }}!</h1>
<ul>{% for k, v in fields %}<li>{{ k }} = {{ v }}</li>{% endfor %}</ul>
"""


@app.post('/form')
def form():
    fields = sorted(request.form.items(multi=True))
    return render_template_string(FORM_PAGE, name=request.form.get('name', 'stranger'), fields=fields)


@app.post('/upload')
def upload():
    if not request.files:
        abort(400, description='no file in the multipart body')
    files = []
    for field, storage in sorted(request.files.items(multi=True)):
        digest, size = hashlib.sha256(), 0
        for block in iter(lambda: storage.stream.read(65536), b''):
            digest.update(block)
            size += len(block)
        files.append({'field': field, 'filename': storage.filename,
                      'content_type': storage.mimetype, 'size': size,
                      'sha256': digest.hexdigest()})
    return jsonify(files=files, fields=dict(sorted(request.form.items())))


# ---------------------------------------------------------------- streaming and files

@app.get('/stream')
def stream():
    n = request.args.get('n', 5, type=int)

    @stream_with_context
    def generate():
        # request is still usable here thanks to stream_with_context
        who = request.args.get('who', 'world')
        for i in range(n):
            yield 'line %d of %d for %s\n' % (i + 1, n, who)
        yield 'done\n'

    return app.response_class(generate(), mimetype='text/plain')


@app.get('/download')
def download():
    resp = send_file(os.path.join(HERE, 'files', 'report.csv'), mimetype='text/csv',
                     as_attachment=True, download_name='report.csv')
    # send_file hands the open file to the server's wsgi.file_wrapper when the
    # server offers one (gowsgi, gunicorn and wsgiref all do).
    wrapper = request.environ.get('wsgi.file_wrapper')
    used = wrapper is not None and isinstance(wrapper, type) and isinstance(resp.response, wrapper)
    resp.headers['X-Body-Iterable'] = 'wsgi.file_wrapper' if used else type(resp.response).__name__
    return resp


# ---------------------------------------------------------------- sessions and cookies

@app.post('/session/login')
def login():
    user = request.form.get('user', '').strip()
    if not user:
        abort(400, description='form field "user" is required')
    session.clear()
    session['user'] = user
    session['visits'] = 0
    return jsonify(user=user)


@app.get('/session')
def whoami():
    if 'user' not in session:
        return jsonify(user=None), 401
    session['visits'] = session.get('visits', 0) + 1
    return jsonify(user=session['user'], visits=session['visits'])


@app.post('/session/logout')
def logout():
    session.clear()
    return jsonify(user=None)


@app.get('/prefs')
def prefs():
    theme = request.args.get('theme')
    if theme is None:
        return jsonify(theme=request.cookies.get('theme', 'light'))
    resp = make_response(jsonify(theme=theme))
    resp.set_cookie('theme', theme, max_age=3600, httponly=True, samesite='Lax')
    return resp


# ---------------------------------------------------------------- errors

@app.get('/boom')
def boom():
    raise ValueError('the boom route always fails')


@app.get('/crash')
def crash():
    raise RuntimeError('an unexpected bug')


@app.errorhandler(ValueError)
def bad_value(e):
    return jsonify(error='bad request', detail=str(e)), 400


@app.errorhandler(HTTPException)
def http_error(e):
    # JSON for the API, Flask's own HTML page everywhere else.
    if request.path.startswith('/api/'):
        return jsonify(error=e.name, detail=e.description), e.code
    return e


@app.errorhandler(500)
def server_error(e):
    return render_template_string('<!doctype html><title>Oops</title><h1>Something broke</h1>\n'), 500


if __name__ == '__main__':
    app.run(debug=True)
