/**
 * Namespace names: 1–63 characters of letters, digits, '.', '_' and '-', not starting with
 * '.' or '-'. They name Durable Objects (idFromName) and appear in URLs and logs, so the
 * rule keeps them unambiguous and printable.
 */
export const NAMESPACE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,62}$/;

export const isNamespaceName = (name: string): boolean => NAMESPACE_NAME.test(name);
