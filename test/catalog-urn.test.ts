import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { aipUrn, featureUrn, formatUrn, nameUuidFromBytes, parseFeatureUrn, parseOaisUrn, parseUrn } from '../src/catalog/urn.ts'

describe('catalog URNs', () => {
  it('derives UUIDs as Java UUID.nameUUIDFromBytes (MD5, version 3, no namespace)', () => {
    // Java: UUID.nameUUIDFromBytes("test".getBytes()).toString()
    expect(nameUuidFromBytes('test')).toBe('098f6bcd-4621-3373-8ade-4e832627b4f6')
    expect(nameUuidFromBytes('')).toBe('d41d8cd9-8f00-3204-a980-0998ecf8427e')
  })

  it('gives the same URN for the same provider id, and a new version number', () => {
    // Java: "URN:FEATURE:DATA:project1:" + UUID.nameUUIDFromBytes("product-1".getBytes()) + ":V1"
    expect(featureUrn('project1', 'product-1', 1)).toBe('URN:FEATURE:DATA:project1:42f1e2fa-04bc-36d2-bd22-d11514db6623:V1')
    // Expected values written out (MD5 of the provider id, version 3): derived from featureUrn itself they would
    // hold whatever featureUrn returned.
    expect(featureUrn('project1', 'product-2', 1)).toBe('URN:FEATURE:DATA:project1:07be8445-2cc6-37aa-bb55-b10dfd13c8ff:V1')
    expect(featureUrn('project1', 'product-1', 2)).toBe('URN:FEATURE:DATA:project1:42f1e2fa-04bc-36d2-bd22-d11514db6623:V2')
    expect(aipUrn('project1', 'product-1', 1)).toBe('URN:AIP:DATA:project1:42f1e2fa-04bc-36d2-bd22-d11514db6623:V1')
  })

  it('accepts the REGARDS forms and writes them canonically', () => {
    const ok = (s: string) => {
      const r = parseUrn(s)
      if (!r.ok) throw new Error(r.error)
      return formatUrn(r.urn)
    }
    expect(ok('URN:FEATURE:DATA:project1:87fdda0e-27d1-494f-a1c0-c57f2f0810f7:V1')).toBe('URN:FEATURE:DATA:project1:87fdda0e-27d1-494f-a1c0-c57f2f0810f7:V1')
    expect(ok('URN:FEATURE:DATA:project1:87FDDA0E-27d1-494f-a1c0-c57f2f0810f7:V01')).toBe('URN:FEATURE:DATA:project1:87fdda0e-27d1-494f-a1c0-c57f2f0810f7:V1')
    expect(ok('URN:AIP:COLLECTION:t:1-2-3-4-5:LAST')).toBe('URN:AIP:COLLECTION:t:00000001-0002-0003-0004-000000000005:LAST')
    expect(ok('URN:AIP:DATASET:t:87fdda0e-27d1-494f-a1c0-c57f2f0810f7:V12,3:REVabc')).toBe('URN:AIP:DATASET:t:87fdda0e-27d1-494f-a1c0-c57f2f0810f7:V12,3:REVabc')
  })

  it('refuses what REGARDS refuses, with a reason', () => {
    for (const bad of [
      'URN:FEATURE:DATA:project1:87fdda0e-27d1-494f-a1c0-c57f2f0810f7',
      'URN:FEATURE:DATA:project1:87fdda0e-27d1-494f-a1c0-c57f2f0810f7:V1000',
      'URN:FEATURE:DATA:project1:87fdda0e-27d1-494f-a1c0-c57f2f0810f7:V0',
      'URN:FEATURE:THING:project1:87fdda0e-27d1-494f-a1c0-c57f2f0810f7:V1',
      'URN:FEATURE:DATA:project1:not-a-uuid:V1',
      'urn:FEATURE:DATA:project1:87fdda0e-27d1-494f-a1c0-c57f2f0810f7:V1',
      '',
    ]) {
      const r = parseUrn(bad)
      expect(r.ok, bad).toBe(false)
      expect((r as { error: string }).error.length).toBeGreaterThan(5)
    }
    expect(parseUrn(42).ok).toBe(false)
    expect(parseFeatureUrn('URN:AIP:DATA:project1:87fdda0e-27d1-494f-a1c0-c57f2f0810f7:V1').ok).toBe(false)
    expect(parseOaisUrn('URN:FEATURE:DATA:project1:87fdda0e-27d1-494f-a1c0-c57f2f0810f7:V1').ok).toBe(false)
    expect(parseOaisUrn('URN:SIP:DATA:project1:87fdda0e-27d1-494f-a1c0-c57f2f0810f7:V1').ok).toBe(true)
  })

  it('round-trips every generated URN', () => {
    fc.assert(
      fc.property(fc.string(), fc.stringMatching(/^[a-z0-9_-]{1,20}$/), fc.integer({ min: 1, max: 999 }), (providerId, tenant, version) => {
        const urn = featureUrn(tenant, providerId, version)
        const parsed = parseFeatureUrn(urn)
        return parsed.ok && formatUrn(parsed.urn) === urn && parsed.urn.version === version && parsed.urn.tenant === tenant
      }),
    )
  })
})
