package node

import (
	"github.com/nvm-node/nvm-node/core/admission"
	"github.com/nvm-node/nvm-node/core/config"
)

// admissionFor builds the request admission of the limits section.
func admissionFor(cfg *config.Config) (*admission.Limiter, *admission.ClientResolver, error) {
	l := cfg.Limits
	clients, err := admission.NewClientResolver(l.TrustedProxies, l.IPv6Prefix)
	if err != nil {
		return nil, nil, err
	}
	c := l.Classes
	limits := map[admission.Class]config.ClassLimit{
		admission.ClassAuth: c.Auth, admission.ClassSearch: c.Search, admission.ClassUpload: c.Upload,
		admission.ClassEncrypt: c.Encrypt, admission.ClassDownload: c.Download, admission.ClassWrite: c.Write,
		admission.ClassRead: c.Read,
	}
	classes := make(map[admission.Class]admission.Limits, len(limits))
	for class, cl := range limits {
		classes[class] = admission.Limits{Rate: cl.Rate, Burst: cl.Burst, PerClient: cl.PerClient, Total: cl.Total}
	}
	limiter, err := admission.New(admission.Config{Classes: classes, MaxClients: l.MaxClients})
	if err != nil {
		return nil, nil, err
	}
	return limiter, clients, nil
}
