import builtins
builtins.SERVER_MODE = True

from pgAdmin4 import app  # noqa: F401 - the WSGI application gunicorn serves
