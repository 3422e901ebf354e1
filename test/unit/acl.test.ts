import { describe, expect, it } from "vitest";
import { canAccess, fixupAcl, maskDigests, Perms, SUPER, withSuper, type ACL, type Id } from "../../src/core/acl.js";
import { ipMatches, parseAddress, parseRange } from "../../src/core/ip.js";
import { authIdentities, digestId } from "../../src/protocol/digest.js";
import { ZkError } from "../../src/core/errors.js";

/** ZooKeeper's ACL rules, one behaviour per test (ZooKeeper 3.8: checkACL, fixupACL, the auth providers). */

const acl = (scheme: string, id: string, perms: number = Perms.ALL): ACL => ({ scheme, id, perms });
const ip = (a: string): Id => ({ scheme: "ip", id: a });
const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as ZkError).code;
  }
  return 0;
};

describe("digest scheme", () => {
  it("hashes user:password as ZooKeeper does (the superDigest example in ZooKeeper's docs)", () => {
    expect(digestId("super:test")).toBe("super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
  });
  it("addAuth accepts digest user:password only", () => {
    expect(authIdentities("digest", "alice:pw")).toEqual([{ scheme: "digest", id: digestId("alice:pw") }]);
    expect(code(() => authIdentities("digest", "no-colon"))).toBe(-115);
    expect(code(() => authIdentities("digest", ":pw"))).toBe(-115);
    expect(code(() => authIdentities("sasl", "x"))).toBe(-115);
  });
  it("an identity matches a digest entry exactly", () => {
    const me = { scheme: "digest", id: digestId("alice:pw") };
    expect(canAccess([acl("digest", digestId("alice:pw"))], Perms.READ, [me])).toBe(true);
    expect(canAccess([acl("digest", digestId("alice:other"))], Perms.READ, [me])).toBe(false);
  });
  it("getACL without ADMIN masks the hash", () => {
    expect(maskDigests([acl("digest", "alice:abc="), acl("world", "anyone", 1)])).toEqual([acl("digest", "alice:x"), acl("world", "anyone", 1)]);
  });
});

describe("permissions", () => {
  it("an entry grants exactly its bits; any entry granting the bit suffices", () => {
    const list = [acl("world", "anyone", Perms.READ), acl("ip", "127.0.0.1", Perms.WRITE)];
    expect(canAccess(list, Perms.READ, [])).toBe(true);
    expect(canAccess(list, Perms.WRITE, [])).toBe(false);
    expect(canAccess(list, Perms.WRITE, [ip("127.0.0.1")])).toBe(true);
    expect(canAccess(list, Perms.ADMIN, [ip("127.0.0.1")])).toBe(false);
  });
  it("READ|ADMIN (getACL's check) is met by either bit", () => {
    expect(canAccess([acl("world", "anyone", Perms.ADMIN)], Perms.READ | Perms.ADMIN, [])).toBe(true);
    expect(canAccess([acl("world", "anyone", Perms.WRITE)], Perms.READ | Perms.ADMIN, [])).toBe(false);
  });
  it("the super identity passes every check, even an ACL that grants nothing to anyone", () => {
    expect(canAccess([acl("digest", "x:y", Perms.READ)], Perms.ADMIN, [SUPER])).toBe(true);
  });
  it("withSuper adds super only for the configured digest", () => {
    const sup = { scheme: "digest", id: digestId("super:test") };
    expect(withSuper([sup], "super:D/InIHSb7yEEbrWz8b9l71RjZJU=")).toContainEqual(SUPER);
    expect(withSuper([{ scheme: "digest", id: digestId("super:wrong") }], "super:D/InIHSb7yEEbrWz8b9l71RjZJU=")).not.toContainEqual(SUPER);
    expect(withSuper([sup], undefined)).not.toContainEqual(SUPER);
  });
  it("token entries match the token subject", () => {
    expect(canAccess([acl("token", "alice")], Perms.READ, [{ scheme: "token", id: "alice" }])).toBe(true);
    expect(canAccess([acl("token", "alice")], Perms.READ, [{ scheme: "token", id: "bob" }])).toBe(false);
    expect(canAccess([acl("token", "alice")], Perms.READ, [{ scheme: "digest", id: "alice" }])).toBe(false);
  });
});

describe("ip scheme (IPv4 and IPv6)", () => {
  it.each([
    ["10.1.2.3", "10.1.2.3", true],
    ["10.1.2.3", "10.1.2.4", false],
    ["10.1.2.3", "10.0.0.0/8", true],
    ["11.1.2.3", "10.0.0.0/8", false],
    ["192.168.1.77", "192.168.1.64/26", true],
    ["192.168.1.128", "192.168.1.64/26", false],
    ["1.2.3.4", "0.0.0.0/0", true],
    ["2001:db8::1", "2001:db8::1", true],
    ["2001:db8::1", "2001:db8::/32", true],
    ["2001:db9::1", "2001:db8::/32", false],
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1", true],
    ["::1", "::1", true],
    ["::ffff:10.1.2.3", "10.0.0.0/8", true],
    ["10.1.2.3", "::ffff:10.1.2.3", false],
    ["fe80::1", "10.0.0.0/8", false],
    ["10.0.0.1", "fe80::/10", false],
    ["garbage", "10.0.0.0/8", false],
  ])("%s in %s: %s", (addr, range, want) => {
    expect(ipMatches(addr, range)).toBe(want);
  });
  it("parses what it should and nothing else", () => {
    for (const ok of ["1.2.3.4", "::", "::1", "1::", "2001:db8::8a2e:370:7334", "::ffff:1.2.3.4", "[::1]"]) expect(parseAddress(ok), ok).toBeDefined();
    for (const bad of ["1.2.3", "1.2.3.256", "1.2.3.4.5", "01234::", "1:::2", "1::2::3", "g::1", "1:2:3:4:5:6:7:8:9", ""]) expect(parseAddress(bad), bad).toBeUndefined();
    expect(parseRange("10.0.0.0/33")).toBeUndefined();
    expect(parseRange("::/129")).toBeUndefined();
    expect(parseRange("::/128")).toEqual({ bytes: new Uint8Array(16), bits: 128 });
  });
});

describe("fixupAcl (validation as ZooKeeper's PrepRequestProcessor)", () => {
  const me: Id[] = [ip("127.0.0.1"), { scheme: "digest", id: "alice:h=" }, { scheme: "token", id: "alice" }];
  it("an empty list, unknown schemes, bad perms, world ids other than anyone, super entries: INVALIDACL", () => {
    for (const bad of [[], [acl("kerberos", "x")], [acl("world", "anyone", 32)], [acl("world", "anyone", -1)], [acl("world", "someone")], [acl("super", "")], [acl("ip", "10.0.0.0/40")], [acl("ip", "host.example")], [acl("digest", "nocolon")], [acl("token", "")]])
      expect(code(() => fixupAcl(bad, me)), JSON.stringify(bad)).toBe(-114);
  });
  it("auth expands to the authenticated identities (digest, token), never ip", () => {
    expect(fixupAcl([acl("auth", "", Perms.READ)], me)).toEqual([acl("digest", "alice:h=", Perms.READ), acl("token", "alice", Perms.READ)]);
  });
  it("auth with no authenticated identity: INVALIDACL", () => {
    expect(code(() => fixupAcl([acl("auth", "")], [ip("127.0.0.1")]))).toBe(-114);
  });
  it("removes duplicates, keeping order", () => {
    expect(fixupAcl([acl("ip", "10.0.0.0/8", 1), acl("world", "anyone", 1), acl("ip", "10.0.0.0/8", 1)], [])).toEqual([acl("ip", "10.0.0.0/8", 1), acl("world", "anyone", 1)]);
  });
});
