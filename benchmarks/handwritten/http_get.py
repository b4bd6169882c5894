"""Case 3 (B): the same GET with Locust's requests-based HttpUser."""

from locust import HttpUser, constant, task


class GetUser(HttpUser):
    wait_time = constant(0)

    @task
    def get(self) -> None:
        self.client.get("/get")
