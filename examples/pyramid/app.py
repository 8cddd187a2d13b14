"""A small Pyramid application for gowsgi.

    gowsgi examples/pyramid/app.py --bind 127.0.0.1:8000
    gowsgi --chdir examples/pyramid 'app:make_app()'     # the factory form

Routes:
    GET  /                  plain text
    GET  /greet/{name}      JSON (renderer='json')
    POST /api/orders        create an order from a JSON body {"item": ..., "qty": ...}
    GET  /api/orders/{id}   one order; HTTPNotFound otherwise
    POST /contact           urlencoded form; 400 when "email" is missing
    GET  /broken            ValueError turned into 400 by an exception view
    anything else           the notfound view (JSON)
"""

import threading

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPBadRequest, HTTPCreated, HTTPNotFound
from pyramid.response import Response
from pyramid.view import exception_view_config, notfound_view_config, view_config

_orders = {}
_lock = threading.Lock()


@view_config(route_name='home', request_method='GET')
def home(request):
    return Response('Pyramid on gowsgi\n', content_type='text/plain', charset='utf-8')


@view_config(route_name='greet', renderer='json', request_method='GET')
def greet(request):
    return {'greeting': 'Hello, %s!' % request.matchdict['name'],
            'lang': request.params.get('lang', 'en')}


@view_config(route_name='orders', renderer='json', request_method='POST')
def create_order(request):
    try:
        data = request.json_body
    except ValueError:
        raise HTTPBadRequest(json_body={'error': 'body is not JSON'})
    if not isinstance(data, dict) or not isinstance(data.get('item'), str):
        raise HTTPBadRequest(json_body={'error': 'an order needs an "item"'})
    qty = data.get('qty', 1)
    if not isinstance(qty, int) or qty < 1:
        raise HTTPBadRequest(json_body={'error': '"qty" must be a positive integer'})
    with _lock:
        order = {'id': len(_orders) + 1, 'item': data['item'], 'qty': qty}
        _orders[order['id']] = order
    request.response.status = 201
    request.response.headers['Location'] = '/api/orders/%d' % order['id']
    return order


@view_config(route_name='order', renderer='json', request_method='GET')
def get_order(request):
    with _lock:
        order = _orders.get(int(request.matchdict['id']))
    if order is None:
        raise HTTPNotFound(json_body={'error': 'no such order'})
    return order


@view_config(route_name='contact', request_method='POST')
def contact(request):
    email = request.POST.get('email')
    if not email:
        return HTTPBadRequest(body='the form needs an email\n', content_type='text/plain', charset='utf-8')
    return Response('We will write to %s.\n' % email, content_type='text/plain', charset='utf-8')


@view_config(route_name='broken')
def broken(request):
    raise ValueError('broken on purpose')


@exception_view_config(ValueError, renderer='json')
def value_error(exc, request):
    request.response.status = 400
    return {'error': 'bad value', 'detail': str(exc)}


@notfound_view_config(renderer='json')
def not_found(request):
    request.response.status = 404
    return {'error': 'not found', 'path': request.path}


def make_app():
    with Configurator() as config:
        config.add_route('home', '/')
        config.add_route('greet', '/greet/{name}')
        config.add_route('orders', '/api/orders')
        config.add_route('order', '/api/orders/{id:\\d+}')
        config.add_route('contact', '/contact')
        config.add_route('broken', '/broken')
        config.scan(__name__)
        return config.make_wsgi_app()


app = make_app()
