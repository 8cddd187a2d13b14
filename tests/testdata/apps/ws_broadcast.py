"""Broadcast over WebSockets, as chat and dashboard apps do it (Debian's
python3-starlette and python3-fastapi): every text message a client sends
goes to every client connected to the same route, the sender included.
Each join is announced to everyone as "joined:<count>", so clients can wait
until all of them are in. GET /count and /api/count say how many are
connected (0 once every client has gone and the app saw it)."""
from fastapi import FastAPI, WebSocket as FastAPIWebSocket, WebSocketDisconnect
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket


class Room:
    def __init__(self):
        self.members = set()

    async def send_all(self, text):
        for ws in list(self.members):
            try:
                await ws.send_text(text)
            except Exception:
                self.members.discard(ws)

    async def serve(self, ws):
        await ws.accept()
        self.members.add(ws)
        try:
            await self.send_all('joined:%d' % len(self.members))
            while True:
                msg = await ws.receive()
                if msg['type'] == 'websocket.disconnect':
                    return
                if msg.get('text') is not None:
                    await self.send_all(msg['text'])
        finally:
            self.members.discard(ws)


room = Room()


async def broadcast(ws: WebSocket):
    await room.serve(ws)


async def count(request):
    return PlainTextResponse(str(len(room.members)))


api = FastAPI()
api_room = Room()


@api.websocket('/broadcast')
async def api_broadcast(websocket: FastAPIWebSocket):
    try:
        await api_room.serve(websocket)
    except WebSocketDisconnect:
        pass


@api.get('/count')
async def api_count():
    return len(api_room.members)


app = Starlette(routes=[
    WebSocketRoute('/broadcast', broadcast),
    Route('/count', count),
    Mount('/api', app=api),
])
