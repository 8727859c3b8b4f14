from tests.factories import PASSWORD


def test_login_and_overview(client, org):
    r = client.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
    assert r.status_code == 200, r.text
    r = client.get("/", headers={"accept": "text/html"})
    assert r.status_code == 200
    assert "城一派出所" in r.text
