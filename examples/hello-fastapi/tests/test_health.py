from fastapi.testclient import TestClient

from app.main import app


def test_health():
    with TestClient(app) as client:
        response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_greeting():
    with TestClient(app) as client:
        assert client.get("/").json() == {"message": "Hello, world!"}
        assert client.get("/", params={"name": "pyship"}).json() == {"message": "Hello, pyship!"}
