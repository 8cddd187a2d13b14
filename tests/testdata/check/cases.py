"""One broken WSGI application per message of `gowsgi check`.

    gowsgi check "tests/testdata/check/cases.py:case('status_1xx')"

A line the report should point at ends with a marker comment "# <- NAME";
tests/check_test.go finds its number from the marker.
"""
import os
import sys
import time

TEXT = [('Content-Type', 'text/plain')]


def case(name):
    return globals()['app_' + name]


# ---------------------------------------------------------------- the request body and wsgi.errors

def app_read_no_size(environ, start_response):
    environ['wsgi.input'].read()  # <- read_no_size
    start_response('200 OK', TEXT)
    return [b'ok']


def app_readline_args(environ, start_response):
    environ['wsgi.input'].readline(1, 2)  # <- readline_args
    start_response('200 OK', TEXT)
    return [b'ok']


def app_errors_bytes(environ, start_response):
    environ['wsgi.errors'].write(b'log line\n')  # <- errors_bytes
    start_response('200 OK', TEXT)
    return [b'ok']


def app_close_input(environ, start_response):
    environ['wsgi.input'].close()  # <- close_input
    start_response('200 OK', TEXT)
    return [b'ok']


def app_close_errors(environ, start_response):
    environ['wsgi.errors'].close()  # <- close_errors
    start_response('200 OK', TEXT)
    return [b'ok']


# ---------------------------------------------------------------- start_response()

def app_write_str(environ, start_response):
    write = start_response('200 OK', TEXT)
    write('text, not bytes')  # <- write_str
    return []


def app_status_not_str(environ, start_response):
    start_response(b'200 OK', TEXT)  # <- status_not_str
    return [b'ok']


def app_status_four_digits(environ, start_response):
    start_response('2000 OK', TEXT)  # <- status_four_digits
    return [b'ok']


def app_status_words(environ, start_response):
    start_response('OK 200', TEXT)  # <- status_words
    return [b'ok']


def app_status_low(environ, start_response):
    start_response('099 Low', TEXT)  # <- status_low
    return [b'ok']


def app_status_1xx(environ, start_response):
    start_response('103 Early Hints', TEXT)  # <- status_1xx
    return [b'ok']


def app_status_control(environ, start_response):
    start_response('200 O\x7fK', TEXT)  # <- status_control
    return [b'ok']


def app_status_non_latin1(environ, start_response):
    start_response('200 Okay \u2713', TEXT)  # <- status_non_latin1
    return [b'ok']


def app_header_list_item(environ, start_response):
    start_response('200 OK', [['Content-Type', 'text/plain']])  # <- header_list_item
    return [b'ok']


def app_header_triple(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain', 'utf-8')])  # <- header_triple
    return [b'ok']


def app_header_name_bytes(environ, start_response):
    start_response('200 OK', [(b'Content-Type', 'text/plain')])  # <- header_name_bytes
    return [b'ok']


def app_header_value_int(environ, start_response):
    start_response('200 OK', TEXT + [('Content-Length', 2)])  # <- header_value_int
    return [b'ok']


def app_status_header(environ, start_response):
    start_response('200 OK', TEXT + [('Status', '200 OK')])  # <- status_header
    return [b'ok']


def app_bad_header_name(environ, start_response):
    start_response('200 OK', TEXT + [('X Powered By', 'python')])  # <- bad_header_name
    return [b'ok']


def app_header_injection(environ, start_response):
    start_response('200 OK', TEXT + [('X-Note', 'a\r\nSet-Cookie: admin=1')])  # <- header_injection
    return [b'ok']


def app_header_del_char(environ, start_response):
    start_response('200 OK', TEXT + [('X-Note', 'a\x7fb')])  # <- header_del_char
    return [b'ok']


def app_header_non_latin1(environ, start_response):
    start_response('200 OK', TEXT + [('X-Name', 'Zo\u00eb \u2713')])  # <- header_non_latin1
    return [b'ok']


def app_hop_by_hop(environ, start_response):
    start_response('200 OK', TEXT + [('Connection', 'close')])  # <- hop_by_hop
    return [b'ok']


def app_content_length_text(environ, start_response):
    start_response('200 OK', TEXT + [('Content-Length', 'two')])  # <- content_length_text
    return [b'ok']


def app_content_length_twice(environ, start_response):
    start_response('200 OK', TEXT + [('Content-Length', '2'), ('Content-Length', '2')])  # <- content_length_twice
    return [b'ok']


def app_content_type_204(environ, start_response):
    start_response('204 No Content', TEXT)  # <- content_type_204
    return []


def app_no_content_type(environ, start_response):
    start_response('200 OK', [])  # <- no_content_type
    return [b'ok']


def app_exc_info_not_tuple(environ, start_response):
    try:
        raise ValueError('oops')
    except ValueError as e:
        start_response('500 Internal Server Error', TEXT, e)  # <- exc_info_not_tuple
    return [b'error']


def app_exc_info_none(environ, start_response):
    start_response('200 OK', TEXT, sys.exc_info())  # <- exc_info_none
    return [b'ok']


def app_too_many_args(environ, start_response):
    start_response('200 OK', TEXT, None, 'extra')  # <- too_many_args
    return [b'ok']


def app_keyword_args(environ, start_response):
    start_response('200 OK', TEXT, exc_info=None)  # <- keyword_args
    return [b'ok']


def app_second_start_response(environ, start_response):
    start_response('200 OK', TEXT)
    start_response('404 Not Found', TEXT)  # <- second_start_response
    return [b'ok']


# ---------------------------------------------------------------- the returned iterable

def app_returns_none(environ, start_response):  # <- returns_none
    start_response('200 OK', TEXT)


def app_returns_bytes(environ, start_response):  # <- returns_bytes
    start_response('200 OK', TEXT)
    return b'hello'


def app_yields_str(environ, start_response):
    start_response('200 OK', TEXT)
    yield 'hello'  # <- yields_str


def app_body_without_start_response(environ, start_response):  # <- body_without_start_response
    return [b'hello']


def app_no_start_response(environ, start_response):  # <- no_start_response
    return []


def app_content_length_wrong(environ, start_response):  # <- content_length_wrong
    start_response('200 OK', TEXT + [('Content-Length', '100')])
    return [b'short']


# ---------------------------------------------------------------- exceptions and failures

def app_raises(environ, start_response):
    raise KeyError('missing')  # <- raises


def app_raises_midway(environ, start_response):
    start_response('200 OK', TEXT)
    yield b'first part'
    raise RuntimeError('lost the database')  # <- raises_midway


class ClosingBody:
    def __iter__(self):
        return iter([b'ok'])

    def close(self):
        raise OSError('cannot release the file')  # <- close_raises


def app_close_raises(environ, start_response):
    start_response('200 OK', TEXT)
    return ClosingBody()


def app_answers_500(environ, start_response):
    sys.stderr.write('app log: the cache is down\n')
    start_response('500 Internal Server Error', TEXT)
    return [b'error']


def app_hangs(environ, start_response):
    time.sleep(120)
    start_response('200 OK', TEXT)
    return [b'late']


def app_exits(environ, start_response):
    os._exit(7)


def app_factory_none():
    return None
