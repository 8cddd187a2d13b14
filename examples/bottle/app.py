"""A small Bottle application for gowsgi.

    gowsgi examples/bottle/app.py --bind 127.0.0.1:8000

Routes:
    GET  /                  HTML page from a SimpleTemplate
    GET  /hello/<name>      plain text
    GET  /api/todos         JSON list
    POST /api/todos         add a todo from a JSON body {"text": ...}
    GET  /api/todos/<id>    one todo; abort(404) otherwise
    POST /guestbook         urlencoded form; 400 when "name" is missing
    POST /upload            raw body: its size and SHA-256
    GET  /fail              an exception; the 500 error page answers
"""

import hashlib
import json
import threading

import bottle
from bottle import Bottle, HTTPError, abort, request, response, template

app = Bottle()

_todos = []
_lock = threading.Lock()

PAGE = """<!doctype html>
<title>{{title}}</title>
<h1>{{title}}</h1>
<ul>
% for t in todos:
  <li>{{t['id']}}: {{t['text']}}</li>
% end
</ul>
"""


@app.get('/')
def index():
    with _lock:
        todos = list(_todos)
    return template(PAGE, title='Bottle on gowsgi', todos=todos)


@app.get('/hello/<name>')
def hello(name):
    response.content_type = 'text/plain; charset=utf-8'
    return 'Hello, %s!\n' % name


@app.get('/api/todos')
def list_todos():
    with _lock:
        return {'todos': list(_todos)}


@app.post('/api/todos')
def add_todo():
    try:
        data = request.json
    except HTTPError:
        raise
    if not isinstance(data, dict) or not isinstance(data.get('text'), str):
        abort(400, 'send JSON like {"text": "..."}')
    with _lock:
        todo = {'id': len(_todos) + 1, 'text': data['text']}
        _todos.append(todo)
    response.status = 201
    response.set_header('Location', '/api/todos/%d' % todo['id'])
    return todo


@app.get('/api/todos/<todo_id:int>')
def get_todo(todo_id):
    with _lock:
        for t in _todos:
            if t['id'] == todo_id:
                return t
    abort(404, 'no todo %d' % todo_id)


@app.post('/guestbook')
def guestbook():
    name = request.forms.getunicode('name')
    if not name:
        abort(400, 'the form needs a name')
    message = request.forms.getunicode('message', '')
    response.content_type = 'text/plain; charset=utf-8'
    return 'Thanks, %s! You wrote %d characters.\n' % (name, len(message))


@app.post('/upload')
def upload():
    body = request.body.read()
    response.content_type = 'application/json'
    return json.dumps({'size': len(body), 'sha256': hashlib.sha256(body).hexdigest(),
                       'content_type': request.content_type})


@app.get('/fail')
def fail():
    raise KeyError('this route is broken on purpose')


@app.error(400)
@app.error(404)
@app.error(405)
@app.error(500)
def error_page(err):
    response.content_type = 'application/json'
    return json.dumps({'status': err.status_line, 'error': err.body if err.status_code != 500 else 'internal error'})


if __name__ == '__main__':
    bottle.run(app, host='127.0.0.1', port=8000)
