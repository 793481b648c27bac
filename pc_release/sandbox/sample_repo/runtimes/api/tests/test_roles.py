"""Unit tests of the API runtime's role store and its authz rule."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.roles import DEFAULT_SEED, Conflict, Forbidden, NotFound, RoleStore, Unauthenticated  # noqa: E402


class RoleStoreTest(unittest.TestCase):
    def setUp(self) -> None:
        self.store = RoleStore(DEFAULT_SEED)

    def test_admin_binds_lists_and_revokes(self) -> None:
        binding = self.store.bind("alice", "dana", "platform-operator")
        self.assertIn(binding, self.store.list_bindings("alice"))
        self.store.revoke("alice", binding["id"])
        self.assertNotIn(binding, self.store.list_bindings("alice"))

    def test_viewer_and_operator_may_not_administer_roles(self) -> None:
        for user in ("victor", "oscar"):
            with self.assertRaises(Forbidden):
                self.store.list_bindings(user)
            with self.assertRaises(Forbidden):
                self.store.bind(user, "mallory", "platform-admin")

    def test_unknown_caller_is_unauthenticated(self) -> None:
        with self.assertRaises(Unauthenticated):
            self.store.list_bindings("mallory")
        with self.assertRaises(Unauthenticated):
            self.store.audit_log(None)

    def test_audit_log_records_bind_and_revoke_newest_first(self) -> None:
        binding = self.store.bind("alice", "dana", "platform-viewer")
        self.store.revoke("alice", binding["id"])
        actions = [(e["action"], e["subject"], e["actor"]) for e in self.store.audit_log("alice")]
        self.assertEqual(actions, [("role.revoke", "dana", "alice"), ("role.bind", "dana", "alice")])

    def test_duplicate_unknown_role_and_missing_binding_are_refused(self) -> None:
        with self.assertRaises(Conflict):
            self.store.bind("alice", "victor", "platform-viewer")
        with self.assertRaises(ValueError):
            self.store.bind("alice", "dana", "root")
        with self.assertRaises(NotFound):
            self.store.revoke("alice", "rb-999")


if __name__ == "__main__":
    unittest.main()
