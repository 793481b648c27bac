"""Integration: the generated SDK against the real API runtime over HTTP (contract both ways)."""

import sys
import threading
import unittest
from pathlib import Path
from wsgiref.simple_server import make_server

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "runtimes" / "api"), str(ROOT / "sdk")]

from app.roles import DEFAULT_SEED, RoleStore  # noqa: E402
from app.wsgi import QuietHandler, create_app  # noqa: E402
from platform_control_sdk import PLATFORM_ROLES, ApiError, PlatformControlClient  # noqa: E402


class SdkAgainstApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = make_server("127.0.0.1", 0, create_app(RoleStore(DEFAULT_SEED)), handler_class=QuietHandler)
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()
        cls.base_url = f"http://127.0.0.1:{cls.server.server_port}"

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.shutdown()
        cls.server.server_close()

    def client(self, user: str | None) -> PlatformControlClient:
        return PlatformControlClient(self.base_url, user=user, timeout=5)

    def test_health_needs_no_user(self) -> None:
        self.assertEqual(self.client(None).health(), {"status": "ok"})

    def test_sdk_roles_match_the_api_roles(self) -> None:
        from app.roles import PLATFORM_ROLES as API_ROLES

        self.assertEqual(PLATFORM_ROLES, API_ROLES)

    def test_bind_list_revoke_and_audit_round_trip(self) -> None:
        admin = self.client("alice")
        binding = admin.bind_platform_role({"subject": "integration-dana", "role": "platform-operator"})
        self.assertEqual(binding["created_by"], "alice")
        self.assertIn(binding, admin.list_role_bindings())
        self.assertIsNone(admin.revoke_platform_role(binding["id"]))
        self.assertNotIn(binding["id"], [b["id"] for b in admin.list_role_bindings()])
        recent = [(e["action"], e["subject"]) for e in admin.list_admin_audit_log()[:2]]
        self.assertEqual(recent, [("role.revoke", "integration-dana"), ("role.bind", "integration-dana")])

    def test_viewer_is_forbidden_and_stranger_unauthenticated(self) -> None:
        with self.assertRaises(ApiError) as forbidden:
            self.client("victor").list_admin_audit_log()
        self.assertEqual(forbidden.exception.status, 403)
        with self.assertRaises(ApiError) as unauthenticated:
            self.client("mallory").list_role_bindings()
        self.assertEqual(unauthenticated.exception.status, 401)


if __name__ == "__main__":
    unittest.main()
