// Drives the node's metadata store with the official SDK 3.1.2 metadata
// client (MetadataService, Profiles, SearchApi, DDO serialisation), exactly
// as a publisher's SDK would, and prints one JSON line with what it saw.
// Usage: node metadata.cjs <marketplace base URL> <DDO fixture path>
'use strict'
const fs = require('fs')
const base = '@nevermined-io/sdk/dist/node'
const { MetadataService } = require(`${base}/services/metadata/MetadataService.js`)
const { Profiles } = require(`${base}/services/metadata/Profiles.js`)
const { SearchApi } = require(`${base}/nevermined/api/SearchApi.js`)
const { WebServiceConnector } = require(`${base}/nevermined/utils/WebServiceConnector.js`)
const { DDO } = require(`${base}/ddo/DDO.js`)
const { Logger, LogLevel } = require(`${base}/models/Logger.js`)

async function main() {
  const [url, fixture] = process.argv.slice(2)
  const config = { marketplaceUri: url }
  const instance = { config, logger: new Logger(LogLevel.None) }
  const fetch = new WebServiceConnector(instance)
  const metadata = new MetadataService(instance)
  const profiles = new Profiles(instance)
  instance.nevermined = { utils: { fetch }, services: { metadata, profiles } }
  const search = new SearchApi(instance)

  const out = {}
  // Log in as the SDK does before publishing (form-encoded client assertion).
  const b64 = (s) => Buffer.from(s).toString('base64url')
  const publisher = '0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1'
  const assertion = `${b64('{"alg":"ES256K"}')}.${b64(JSON.stringify({ iss: publisher }))}.${b64('sig')}`
  const token = await metadata.login(assertion)
  out.tokenSub = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).sub

  const ddo = DDO.deserialize(fs.readFileSync(fixture, 'utf8'))
  const stored = await metadata.storeDDO(ddo)
  out.storedId = stored.id
  out.storedServices = stored.service.length

  try {
    await metadata.storeDDO(ddo)
    out.duplicate = 'accepted'
  } catch (e) {
    out.duplicate = String(e.message || e)
  }

  const got = await metadata.retrieveDDO(ddo.id)
  out.retrievedSame = DDO.serialize(got) === DDO.serialize(ddo)

  got.service[0].attributes.main.name = 'renamed by the SDK'
  const updated = await metadata.updateDDO(ddo.id, got)
  out.updatedName = updated.service[0].attributes.main.name

  const q = await metadata.queryMetadata({ query: { term: { id: ddo.id } }, offset: 10, page: 1 })
  out.query = { n: q.results.length, page: q.page, totalPages: q.totalPages, total: q.totalResults.value, firstIsDDO: q.results[0] instanceof DDO }

  const byText = await search.byText('renamed')
  out.byText = byText.totalResults.value

  const withApp = await search.query({ query: { match_all: {} }, appId: 'another-app' })
  out.otherApp = withApp.totalResults.value

  const profile = await profiles.findOneByAddress(publisher)
  out.profileUserId = profile.userId

  const del = await metadata.delete(ddo.id)
  out.deleteStatus = del.status
  try {
    await metadata.retrieveDDO(ddo.id)
    out.afterDelete = 'found'
  } catch (e) {
    out.afterDelete = String(e.message || e)
  }
  console.log(JSON.stringify(out))
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e)
  process.exit(1)
})
