"""A Quart app (Debian's python3-quart) with its lifespan hooks, a
streamed response, url_for, a form and a JSON body, for the tests that
compare gowsgi with uvicorn."""
import asyncio
import os

from quart import Quart, jsonify, make_response, redirect, request, url_for

STATE_DIR = os.environ.get('PROBE_STATE_DIR', '')
app = Quart(__name__)


def mark(name, text=''):
    if STATE_DIR:
        tmp = os.path.join(STATE_DIR, name + '.tmp')
        with open(tmp, 'w') as f:
            f.write(text)
        os.replace(tmp, os.path.join(STATE_DIR, name))


@app.before_serving
async def startup():
    mark('quart-real.startup', str(os.getpid()))


@app.after_serving
async def shutdown():
    mark('quart-real.shutdown', str(os.getpid()))


@app.route('/where')
async def where():
    return jsonify(path=request.path, root_path=request.root_path, url=request.url, url_for=url_for('where', _external=True),
                   scheme=request.scheme, remote_addr=request.remote_addr)


@app.route('/go')
async def go():
    return redirect(url_for('where'))


@app.route('/form', methods=['POST'])
async def form():
    f = await request.form
    return jsonify(name=f.get('name'), tags=f.getlist('tags'))


@app.route('/json', methods=['POST'])
async def js():
    return jsonify(got=await request.get_json())


@app.route('/stream')
async def stream():
    async def gen():
        for i in range(20):
            yield b'quart %d\n' % i
            await asyncio.sleep(0)
    return gen(), 200, {'Content-Type': 'text/plain'}


@app.route('/files', methods=['POST'])
async def files():
    fs = await request.files
    return jsonify({k: len(v.read()) for k, v in fs.items()})
