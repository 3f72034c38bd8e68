# An Ansible callback for the fleet test: one JSON line per play start and
# per task start/result on each host, with the wall-clock time, written to
# $FLEET_EVENTS_FILE. The test reads each host's window in the rolling play
# from it, to attribute every observed DNS change to the host(s) whose
# rotation was running at that moment.
import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: fleet_events
type: aggregate
short_description: per-host task timestamps for daneroll's fleet test
description: writes JSON lines to the file named by FLEET_EVENTS_FILE
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "fleet_events"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._path = os.environ.get("FLEET_EVENTS_FILE")
        self._play = None

    def _write(self, **fields):
        if not self._path:
            return
        with open(self._path, "a", encoding="utf-8") as f:
            f.write(json.dumps(dict(t=time.time(), play=self._play, **fields)) + "\n")

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name()
        self._write(event="play")

    def v2_runner_on_start(self, host, task):
        self._write(event="start", host=host.get_name(), task=task.get_name())

    def _result(self, event, result):
        self._write(event=event, host=result._host.get_name(), task=result._task.get_name(),
                    changed=bool(result._result.get("changed", False)),
                    rc=result._result.get("rc"))

    def v2_runner_on_ok(self, result):
        self._result("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result("failed", result)

    def v2_runner_on_skipped(self, result):
        self._result("skipped", result)

    def v2_runner_on_unreachable(self, result):
        self._result("unreachable", result)
