#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: the aiops authors. Apache-2.0.
"""Ansible module: RFC 2136 dynamic DNS update signed with a TSIG key."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: aiops_nsupdate
short_description: Add or delete one DNS resource record set with a TSIG-signed RFC 2136 update
description:
  - Reads the current answer for O(record)/O(type) from the authoritative server, and when it
    differs from the desired state sends a dynamic update signed with a TSIG key, then reads the
    answer again to verify it.
  - With O(state=present) the record set of that name and type is made to hold exactly O(value)
    with O(ttl) (an existing set with other values is replaced).
  - With O(state=absent) the record O(value) is deleted, or the whole set of that type when
    O(value) is not given.
  - Supports check mode with an accurate diff, and is idempotent.
options:
  server: {description: Address of the authoritative server., type: str, required: true}
  port: {description: Port of the server., type: int, default: 53}
  zone: {description: Zone to update (e.g. V(local))., type: str, required: true}
  record:
    description:
      - Fully qualified name of the record, inside O(zone). Labels may start with an
        underscore (V(_dmarc.example.com), V(_sip._tcp.example.com)).
    type: str
    required: true
  type: {description: Record type., type: str, default: A, choices: [A, AAAA, CNAME, TXT, SRV]}
  value:
    description:
      - Record data; required for O(state=present). Domain names in it are absolute
        (V(10 60 5060 sip.example.com) for SRV, with or without the trailing dot).
    type: str
  ttl: {description: TTL in seconds., type: int, default: 3600}
  state: {description: Desired state., type: str, default: present, choices: [present, absent]}
  key_name: {description: TSIG key name., type: str}
  key_algorithm: {description: TSIG algorithm., type: str, default: hmac-sha256}
  key_secret: {description: TSIG secret (base64)., type: str}
  protocol: {description: Transport for queries and updates., type: str, default: tcp, choices: [tcp, udp]}
  timeout: {description: Seconds to wait for each answer., type: float, default: 5}
requirements: [dnspython >= 2]
"""

EXAMPLES = r"""
- name: Add test.local A 192.168.1.100
  aiops_nsupdate:
    server: 127.0.0.1
    port: 15353
    zone: local
    record: test.local
    type: A
    value: 192.168.1.100
    ttl: 3600
    key_name: aiops-key
    key_algorithm: hmac-sha256
    key_secret: "{{ tsig_key_secret }}"
"""

RETURN = r"""
msg: {description: Human-readable outcome., type: str, returned: always}
before: {description: Record data (TTL and value per line) before the run., type: list, returned: always}
after: {description: Record data after the run (or what it would be, in check mode)., type: list, returned: always}
record: {description: The record name (absolute, no trailing dot)., type: str, returned: always}
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

DNS_IMPORT_ERROR = None
try:
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.query
    import dns.rcode
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
    import dns.tsig
    import dns.tsigkeyring
    import dns.update
except ImportError:  # pragma: no cover - reported through fail_json
    DNS_IMPORT_ERROR = traceback.format_exc()


class UpdateError(Exception):
    """A failure with a message fit for the operator."""


def normalize_name(text):
    text = text.strip().lower()
    if not text:
        raise UpdateError("empty DNS name")
    return dns.name.from_text(text if text.endswith(".") else text + ".")


def display_name(name):
    return name.to_text(omit_final_dot=True)


# Record types whose data ends with a domain name (shown without the trailing dot).
NAME_LAST_TYPES = ("CNAME", "SRV")


def parse_value(rdtype, value):
    """Parse the user's value into rdata, so that comparisons are canonical."""
    value = value.strip()
    if rdtype == dns.rdatatype.TXT:
        if not value.startswith('"'):
            value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    try:
        # Names in the data are absolute (the CNAME or SRV target "host.local" is
        # "host.local."), as the server answers them.
        return dns.rdata.from_text(
            dns.rdataclass.IN, rdtype, value, origin=dns.name.root, relativize=False
        )
    except (dns.exception.DNSException, ValueError) as exc:
        raise UpdateError(
            "invalid %s value %r: %s" % (dns.rdatatype.to_text(rdtype), value, exc)
        ) from exc


def value_text(rdtype, rdata):
    text = rdata.to_text()
    if dns.rdatatype.to_text(rdtype) in NAME_LAST_TYPES and text.endswith("."):
        text = text[:-1]
    return text


class Updater:
    def __init__(self, module):
        p = module.params
        self.module = module
        self.server = p["server"]
        self.port = p["port"]
        self.timeout = p["timeout"]
        self.protocol = p["protocol"]
        self.zone = normalize_name(p["zone"])
        self.name = normalize_name(p["record"])
        if not self.name.is_subdomain(self.zone):
            raise UpdateError(
                "record %s is not inside zone %s"
                % (display_name(self.name), display_name(self.zone))
            )
        self.rdtype = dns.rdatatype.from_text(p["type"])
        self.type_text = p["type"]
        self.ttl = p["ttl"]
        self.state = p["state"]
        self.value = parse_value(self.rdtype, p["value"]) if p["value"] is not None else None
        self.keyring = None
        self.keyname = None
        self.algorithm = None
        if p["key_name"]:
            self.keyname = normalize_name(p["key_name"])
            self.algorithm = dns.name.from_text(p["key_algorithm"].lower())
            try:
                self.keyring = dns.tsigkeyring.from_text({self.keyname.to_text(): p["key_secret"]})
            except (ValueError, TypeError, dns.exception.DNSException) as exc:
                raise UpdateError("the TSIG key secret is not valid base64") from exc

    def _send(self, message):
        try:
            if self.protocol == "udp":
                response, _ = dns.query.udp_with_fallback(
                    message, self.server, timeout=self.timeout, port=self.port
                )
                return response
            return dns.query.tcp(message, self.server, timeout=self.timeout, port=self.port)
        except dns.exception.Timeout as exc:
            raise UpdateError(
                "DNS server %s port %s did not answer within %ss"
                % (self.server, self.port, self.timeout)
            ) from exc
        except (ConnectionError, OSError) as exc:
            raise UpdateError(
                "cannot reach DNS server %s port %s: %s" % (self.server, self.port, exc.strerror or exc)
            ) from exc
        except dns.tsig.PeerError as exc:
            raise UpdateError("the DNS server rejected the TSIG key (%s)" % exc.__class__.__name__) from exc
        except dns.exception.DNSException as exc:
            raise UpdateError("DNS error talking to %s port %s: %s" % (self.server, self.port, exc)) from exc

    def current(self):
        """The (ttl, [rdata]) the server answers now for name/type; (None, []) when none."""
        query = dns.message.make_query(self.name, self.rdtype)
        query.flags &= ~dns.flags.RD
        if self.keyring is not None:
            query.use_tsig(self.keyring, keyname=self.keyname, algorithm=self.algorithm)
        response = self._send(query)
        rcode = response.rcode()
        if rcode == dns.rcode.NXDOMAIN:
            return None, []
        if rcode != dns.rcode.NOERROR:
            raise UpdateError(
                "DNS server answered %s to the query for %s %s"
                % (dns.rcode.to_text(rcode), display_name(self.name), self.type_text)
            )
        rrset = response.get_rrset(
            response.answer, self.name, dns.rdataclass.IN, self.rdtype
        )
        if rrset is None:
            return None, []
        return rrset.ttl, sorted(rrset, key=lambda r: r.to_text())

    def lines(self, ttl, rdatas):
        return [
            "%s %s IN %s %s" % (display_name(self.name), ttl, self.type_text, value_text(self.rdtype, r))
            for r in rdatas
        ]

    def desired(self, ttl, rdatas):
        """The (ttl, rdatas) wanted, given the current state."""
        if self.state == "present":
            return self.ttl, [self.value]
        if self.value is None:
            return None, []
        remaining = [r for r in rdatas if r != self.value]
        return (ttl if remaining else None), remaining

    def update(self):
        update = dns.update.UpdateMessage(
            self.zone,
            keyring=self.keyring,
            keyname=self.keyname,
            keyalgorithm=self.algorithm if self.algorithm is not None else dns.tsig.default_algorithm,
        )
        if self.state == "present":
            update.replace(self.name, self.ttl, self.value)
        elif self.value is not None:
            update.delete(self.name, self.value)
        else:
            update.delete(self.name, self.rdtype)
        response = self._send(update)
        rcode = response.rcode()
        if rcode != dns.rcode.NOERROR:
            hint = ""
            if rcode == dns.rcode.REFUSED and self.keyring is None:
                hint = " (no TSIG key was given; the zone may require one)"
            elif rcode == dns.rcode.REFUSED:
                hint = " (is the zone configured to allow updates with this key?)"
            elif rcode == dns.rcode.NOTAUTH:
                hint = " (the server is not authoritative for the zone, or rejected the TSIG key)"
            elif rcode == dns.rcode.NOTZONE:
                hint = " (the record is not inside the zone)"
            raise UpdateError(
                "DNS update refused: server answered %s%s" % (dns.rcode.to_text(rcode), hint)
            )

    def run(self):
        ttl, rdatas = self.current()
        want_ttl, want = self.desired(ttl, rdatas)
        same = sorted(r.to_text() for r in want) == sorted(r.to_text() for r in rdatas) and (
            not want or want_ttl == ttl
        )
        before = self.lines(ttl, rdatas)
        after_planned = self.lines(want_ttl, want)
        label = "%s %s" % (display_name(self.name), self.type_text)
        if self.value is not None:
            label_value = "%s %s" % (label, value_text(self.rdtype, self.value))
        else:
            label_value = label
        result = dict(changed=not same, record=display_name(self.name), before=before)

        if same:
            if self.state == "present":
                result["msg"] = "Record %s already present" % label_value
            else:
                result["msg"] = "Record %s already absent" % label_value
            result["after"] = before
        elif self.module.check_mode:
            if self.state == "present":
                verb = "replaced" if rdatas else "added"
            else:
                verb = "deleted"
            result["msg"] = "Record %s would be %s" % (label_value, verb)
            result["after"] = after_planned
        else:
            self.update()
            new_ttl, new_rdatas = self.current()
            result["after"] = self.lines(new_ttl, new_rdatas)
            got = sorted(r.to_text() for r in new_rdatas)
            if got != sorted(r.to_text() for r in want) or (want and new_ttl != want_ttl):
                raise UpdateError(
                    "the server accepted the update but %s now holds %s"
                    % (label, ", ".join(result["after"]) or "nothing")
                )
            if self.state == "present":
                result["msg"] = "Record updated successfully" if rdatas else "Record added successfully"
            else:
                result["msg"] = "Record deleted"

        if self.module._diff:
            result["diff"] = dict(
                before_header="%s (%s:%s)" % (label, self.server, self.port),
                after_header="%s (%s:%s)" % (label, self.server, self.port),
                before="".join(line + "\n" for line in before),
                after="".join(line + "\n" for line in result["after"]),
            )
        return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            server=dict(type="str", required=True),
            port=dict(type="int", default=53),
            zone=dict(type="str", required=True),
            record=dict(type="str", required=True),
            type=dict(type="str", default="A", choices=["A", "AAAA", "CNAME", "TXT", "SRV"]),
            value=dict(type="str"),
            ttl=dict(type="int", default=3600),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            key_name=dict(type="str"),
            key_algorithm=dict(type="str", default="hmac-sha256"),
            key_secret=dict(type="str", no_log=True),
            protocol=dict(type="str", default="tcp", choices=["tcp", "udp"]),
            timeout=dict(type="float", default=5.0),
        ),
        required_if=[("state", "present", ["value"])],
        required_together=[("key_name", "key_secret")],
        supports_check_mode=True,
    )
    if DNS_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("dnspython"), exception=DNS_IMPORT_ERROR)
    if module.params["ttl"] < 0 or module.params["ttl"] > 2147483647:
        module.fail_json(msg="ttl must be between 0 and 2147483647")
    if not 0 < module.params["port"] < 65536:
        module.fail_json(msg="port must be between 1 and 65535")
    try:
        result = Updater(module).run()
    except UpdateError as exc:
        module.fail_json(msg=str(exc), changed=False)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
