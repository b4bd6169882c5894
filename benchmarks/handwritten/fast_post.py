"""Case 2 (B): what benchmarks/scenarios/post.yaml does, written by hand as a Locust expert
would: a JSON body per request, the status and $.status checked, $.token sent back as a
bearer token (the headers dict is built once per new token, not per request)."""

import itertools

from locust import FastHttpUser, constant, task

_user_ids = itertools.count(1)


class PostUser(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        self.user_id = next(_user_ids)
        self.headers: dict[str, str] = {}

    @task
    def post(self) -> None:
        body = {"user": self.user_id, "item": f"item-{self.user_id}", "count": 1}
        with self.client.post(
            "/post", json=body, headers=self.headers, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"expected status 200, got {response.status_code}")
                return
            try:
                document = response.json()
            except ValueError:
                response.failure("response is not JSON")
                return
            if document.get("status") != "ok":
                response.failure(f"$.status: got {document.get('status')!r}")
                return
            token = document.get("token")
            if token is None:
                response.failure("$.token not found in response")
                return
            self.headers = {"Authorization": "Bearer " + token}
