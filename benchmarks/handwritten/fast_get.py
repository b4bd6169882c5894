"""Case 1 (B): a GET as a Locust expert writes it. The host comes from --host."""

from locust import FastHttpUser, constant, task


class GetUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self) -> None:
        self.client.get("/get")
