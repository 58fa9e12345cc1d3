"""The baseline of the throughput budgets: a bare Flask "hello" route."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "Hello, World!"
