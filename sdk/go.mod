module github.com/nvm-node/nvm-node/sdk

go 1.26.0
