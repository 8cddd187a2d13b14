"""A Quart application (Debian's python3-quart) for gowsgi's ASGI tests,
with before_serving/after_serving markers (Quart's lifespan) in
$PROBE_STATE_DIR."""
import os

from quart import Quart, request

app = Quart(__name__)
STATE_DIR = os.environ.get('PROBE_STATE_DIR', '')


@app.before_serving
async def startup():
    if STATE_DIR:
        open(os.path.join(STATE_DIR, 'quart.startup'), 'w').close()


@app.after_serving
async def shutdown():
    if STATE_DIR:
        open(os.path.join(STATE_DIR, 'quart.shutdown'), 'w').close()


@app.route('/')
async def index():
    return {'framework': 'quart', 'args': request.args.get('x')}


@app.route('/echo', methods=['POST'])
async def echo():
    data = await request.get_data()
    return data, 200, {'Content-Type': 'application/octet-stream'}


@app.route('/stream')
async def stream():
    async def gen():
        for i in range(3):
            yield b'quart %d\n' % i
    return gen(), 200, {'Content-Type': 'text/plain'}
