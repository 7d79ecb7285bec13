// Uploads with the official SDK 3.1.2 (NeverminedNode.uploadContent, which
// sends the file part first and encrypt after it) and prints one JSON line
// with the node's answers. The SDK is the one installed for the metadata
// interop test: run with NODE_PATH=core/asset/testdata/sdk-interop/node_modules.
// Usage: node sdk-upload.cjs <node URL> <file path>
'use strict'
const fs = require('fs')
const base = '@nevermined-io/sdk/dist/node'
const { NeverminedNode, NodeUploadBackends } = require(`${base}/services/node/NeverminedNode.js`)
const { WebServiceConnector } = require(`${base}/nevermined/utils/WebServiceConnector.js`)
const { Logger, LogLevel } = require(`${base}/models/Logger.js`)

async function main() {
  const [url, file] = process.argv.slice(2)
  const instance = { config: { neverminedNodeUri: url }, logger: new Logger(LogLevel.None) }
  instance.nevermined = { utils: { fetch: new WebServiceConnector(instance) } }
  const node = new NeverminedNode(instance)
  node.setInstanceConfig(instance)
  const s3 = NodeUploadBackends.AmazonS3
  const out = {
    file: await node.uploadContent(fs.createReadStream(file), false, s3),
    fileEncrypted: await node.uploadContent(fs.createReadStream(file), true, s3),
    message: await node.uploadContent('a message from the SDK', false, s3),
    messageEncrypted: await node.uploadContent('a secret message from the SDK', true, s3),
  }
  try {
    await node.uploadContent('x', false, NodeUploadBackends.IPFS)
    out.ipfs = 'accepted'
  } catch (e) {
    out.ipfs = String(e.message || e)
  }
  console.log(JSON.stringify(out))
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
