#!/usr/bin/python3
# Part of the clawguard Ansible role (MIT). Runs on the managed host.

DOCUMENTATION = r"""
---
module: clawguard_apply
short_description: Plan with clawguard; apply when the plan changes something
description:
  - Runs C(clawguard plan) with the given answers. Unchanged when it plans nothing.
  - In check mode it stops there and reports the plan as the diff.
  - Otherwise it runs C(clawguard apply --yes). When SSH moved, the new port is
    returned as new_port; C(clawguard confirm) from a new login on that port keeps the
    change, and without it the host rolls back by itself after confirm_timeout seconds.
options:
  answers:
    description: The answers (TOML text), passed on standard input.
    required: true
    type: str
  confirm_timeout:
    description: Seconds to confirm an SSH or firewall change before it is rolled back.
    type: int
    default: 120
"""

RETURN = r"""
new_port:
  description: The SSH port to log in on and run C(clawguard confirm) from (0 when none).
  type: int
  returned: always
plan:
  description: What C(clawguard plan) printed.
  type: str
  returned: always
"""

import re

from ansible.module_utils.basic import AnsibleModule

PENDING = "/var/lib/clawguard/pending.toml"


def pending_port():
    try:
        with open(PENDING, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return 0
    m = re.search(r"^new_port = (\d+)$", text, re.M)
    return int(m.group(1)) if m else 0


def main():
    module = AnsibleModule(
        argument_spec=dict(
            answers=dict(type="str", required=True),
            confirm_timeout=dict(type="int", default=120),
        ),
        supports_check_mode=True,
    )
    answers = module.params["answers"]
    rc, plan, err = module.run_command(
        ["clawguard", "plan", "--answers", "/dev/stdin", "--no-color"], data=answers, binary_data=True
    )
    if rc not in (0, 2):
        module.fail_json(msg="clawguard plan failed", rc=rc, stdout=plan, stderr=err)
    # new_port only after this module's own apply: a pending move someone else left (a
    # hand-run apply not yet confirmed) is theirs to confirm, not this run's.
    result = dict(changed=rc == 2, plan=plan, new_port=0)
    if rc == 0 or module.check_mode:
        if rc == 2:
            result["diff"] = dict(prepared=plan)
        module.exit_json(**result)
    timeout = str(module.params["confirm_timeout"])
    rc, out, err = module.run_command(
        ["clawguard", "apply", "--answers", "/dev/stdin", "--yes", "--confirm-timeout", timeout],
        data=answers,
        binary_data=True,
    )
    if rc != 0:
        module.fail_json(msg="clawguard apply failed or left layers out (rc %d): see stdout" % rc, rc=rc, stdout=out, stderr=err)
    result.update(diff=dict(prepared=plan), stdout=out, new_port=pending_port())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
