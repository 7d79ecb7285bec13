package chain

// NetworkName returns the network name the Nevermined SDK and node use for a
// chain id (artifact files are named <Contract>.<network>.json), or "" when
// the id is not one they know.
func NetworkName(chainID uint64) string {
	switch chainID {
	case 1:
		return "mainnet"
	case 10:
		return "optimism"
	case 100:
		return "gnosis"
	case 137:
		return "matic"
	case 1337, 31337:
		return "geth-localnet"
	case 3338:
		return "peaq-mainnet"
	case 8453:
		return "base"
	case 8996:
		return "spree"
	case 8997:
		return "polygon-localnet"
	case 8998:
		return "hardhat"
	case 10200:
		return "chiado"
	case 42161:
		return "arbitrum-one"
	case 42220:
		return "celo"
	case 44787:
		return "celo-alfajores"
	case 80001:
		return "mumbai"
	case 84532:
		return "base-sepolia"
	case 421614:
		return "arbitrum-sepolia"
	}
	return ""
}
