"""Settings for the gowsgi Django example.

Everything deployment-specific comes from the environment so the same project
runs in development, in the conformance tests and in production:

    DJANGO_SECRET_KEY    signing key (a fixed development key otherwise)
    DJANGO_DEBUG=1       debug pages (off by default, as in production)
    DJANGO_DB            path of the SQLite database (default: db.sqlite3 here)
    DJANGO_STATIC_ROOT   where collectstatic puts files (default: staticfiles/ here)
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get('DJANGO_SECRET_KEY', 'gowsgi-example-insecure-development-key-change-me')
DEBUG = os.environ.get('DJANGO_DEBUG') == '1'
ALLOWED_HOSTS = ['127.0.0.1', 'localhost', '[::1]']

INSTALLED_APPS = [
    'django.contrib.admin',
    'django.contrib.auth',
    'django.contrib.contenttypes',
    'django.contrib.sessions',
    'django.contrib.messages',
    'django.contrib.staticfiles',
    'notes',
]

MIDDLEWARE = [
    'django.middleware.security.SecurityMiddleware',
    'django.contrib.sessions.middleware.SessionMiddleware',
    'django.middleware.common.CommonMiddleware',
    'django.middleware.csrf.CsrfViewMiddleware',
    'django.contrib.auth.middleware.AuthenticationMiddleware',
    'django.contrib.messages.middleware.MessageMiddleware',
    'django.middleware.clickjacking.XFrameOptionsMiddleware',
]

ROOT_URLCONF = 'mysite.urls'

TEMPLATES = [
    {
        'BACKEND': 'django.template.backends.django.DjangoTemplates',
        'DIRS': [],
        'APP_DIRS': True,
        'OPTIONS': {
            'context_processors': [
                'django.template.context_processors.debug',
                'django.template.context_processors.request',
                'django.contrib.auth.context_processors.auth',
                'django.contrib.messages.context_processors.messages',
            ],
        },
    },
]

WSGI_APPLICATION = 'mysite.wsgi.application'

DATABASES = {
    'default': {
        'ENGINE': 'django.db.backends.sqlite3',
        'NAME': os.environ.get('DJANGO_DB') or str(BASE_DIR / 'db.sqlite3'),
        # Each gowsgi thread gets its own connection (Django keeps them per
        # thread); SQLite serialises writers, so wait instead of failing.
        'OPTIONS': {'timeout': 20},
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {'NAME': 'django.contrib.auth.password_validation.MinimumLengthValidator'},
]

LANGUAGE_CODE = 'en-us'
TIME_ZONE = 'UTC'
USE_I18N = True
USE_L10N = True
USE_TZ = True

# Relative STATIC_URL: Django prefixes SCRIPT_NAME, so the site works mounted
# under a path (gowsgi --root-path /prefix) without changing settings.
STATIC_URL = 'static/'
STATIC_ROOT = os.environ.get('DJANGO_STATIC_ROOT') or str(BASE_DIR / 'staticfiles')

# Uploads above this size go to a temporary file instead of memory
# (TemporaryFileUploadHandler); this is Django's default, spelled out.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2621440

DEFAULT_AUTO_FIELD = 'django.db.models.BigAutoField'
