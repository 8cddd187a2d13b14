"""A small Falcon (3.x) API for gowsgi.

    gowsgi examples/falcon/app.py --bind 127.0.0.1:8000

Routes:
    GET    /                  service description (JSON)
    GET    /books             list books
    POST   /books             add a book from a JSON body {"title": ..., "year": ...}
    GET    /books/{id}        one book; 404 as Falcon's JSON error
    PUT    /books/{id}        replace a book
    DELETE /books/{id}        remove a book
    POST   /echo              echo the raw request body with its content type
    GET    /teapot            a custom HTTPError subclass
    GET    /divide?a=1&b=0    ZeroDivisionError turned into 422 by an error handler
"""

import threading

import falcon


class Store:
    """Books in memory, per process; the lock makes it safe with --threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.books = {}
        self.next_id = 1

    def add(self, data):
        with self.lock:
            book = {'id': self.next_id, 'title': data['title'], 'year': data.get('year')}
            self.books[book['id']] = book
            self.next_id += 1
            return book


def validate_book(req):
    data = req.get_media(default_when_empty=None)
    if not isinstance(data, dict):
        raise falcon.HTTPBadRequest(title='Invalid body', description='send a JSON object')
    if not isinstance(data.get('title'), str) or not data['title'].strip():
        raise falcon.HTTPUnprocessableEntity(title='Invalid book', description='"title" must be a non-empty string')
    if data.get('year') is not None and not isinstance(data['year'], int):
        raise falcon.HTTPUnprocessableEntity(title='Invalid book', description='"year" must be an integer')
    return data


class RootResource:
    def on_get(self, req, resp):
        resp.media = {'service': 'books', 'framework': 'falcon ' + falcon.__version__.split('.')[0],
                      'routes': ['/books', '/books/{id}', '/echo', '/teapot', '/divide']}


class BooksResource:
    def __init__(self, store):
        self.store = store

    def on_get(self, req, resp):
        with self.store.lock:
            books = [self.store.books[k] for k in sorted(self.store.books)]
        resp.media = {'books': books}

    def on_post(self, req, resp):
        book = self.store.add(validate_book(req))
        resp.status = falcon.HTTP_201
        resp.location = '/books/%d' % book['id']
        resp.media = book


class BookResource:
    def __init__(self, store):
        self.store = store

    def _get(self, book_id):
        book = self.store.books.get(book_id)
        if book is None:
            raise falcon.HTTPNotFound(title='No such book', description='book %d does not exist' % book_id)
        return book

    def on_get(self, req, resp, book_id):
        with self.store.lock:
            resp.media = self._get(book_id)

    def on_put(self, req, resp, book_id):
        data = validate_book(req)
        with self.store.lock:
            book = self._get(book_id)
            book.update(title=data['title'], year=data.get('year'))
            resp.media = book

    def on_delete(self, req, resp, book_id):
        with self.store.lock:
            self._get(book_id)
            del self.store.books[book_id]
        resp.status = falcon.HTTP_204


class EchoResource:
    def on_post(self, req, resp):
        body = req.bounded_stream.read()
        resp.content_type = req.content_type or 'application/octet-stream'
        resp.set_header('X-Body-Length', str(len(body)))
        resp.data = body


class HTTPTeapot(falcon.HTTPError):
    def __init__(self):
        super().__init__('418 I\'m a teapot', title='Teapot', description='short and stout')


class TeapotResource:
    def on_get(self, req, resp):
        raise HTTPTeapot()


class DivideResource:
    def on_get(self, req, resp):
        a = req.get_param_as_int('a', required=True)
        b = req.get_param_as_int('b', required=True)
        resp.media = {'result': a // b}


def zero_division(req, resp, ex, params):
    raise falcon.HTTPUnprocessableEntity(title='Cannot divide', description='division by zero')


def create_app():
    store = Store()
    app = falcon.App()
    app.add_route('/', RootResource())
    app.add_route('/books', BooksResource(store))
    app.add_route('/books/{book_id:int}', BookResource(store))
    app.add_route('/echo', EchoResource())
    app.add_route('/teapot', TeapotResource())
    app.add_route('/divide', DivideResource())
    app.add_error_handler(ZeroDivisionError, zero_division)
    return app


app = create_app()
