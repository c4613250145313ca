package cmq

import (
	"context"
	"strings"

	"github.com/herald-mq/herald/internal/delivery"
	"github.com/herald-mq/herald/internal/push"
	"github.com/herald-mq/herald/internal/topic"
)

// Stats reads a subscription's delivery counters.
type Stats interface {
	Counts(ctx context.Context, sub topic.Subscription) (delivery.Counts, error)
}

// Backlog counts a subscription's messages waiting for a retry, its msgCount.
type Backlog interface {
	Waiting(ctx context.Context, subID string) (int64, error)
}

// herald's extensions to Subscribe and SetSubscriptionAttributes:
//
//	dialect=CMQ|MNS           push as CMQ (default) or as Alibaba MNS does,
//	                          signed; notifyContentFormat=XML implies MNS
//	webhookSecret=generate    sign pushes with Standard Webhooks; "generate"
//	  or whsec_<base64>       makes a secret, returned as webhookSecret. On
//	                          SetSubscriptionAttributes the new secret signs
//	                          alongside the previous one (rotation)
//	retireWebhookSecrets=1    SetSubscriptionAttributes: keep only the newest
const maxWebhookSecrets = 2

func dialectParam(p Params, format, def string) (string, error) {
	v, ok := p.Get("dialect")
	if !ok || v == "" {
		v = def
	}
	v = strings.ToUpper(v)
	if format == topic.FormatXML {
		if v == topic.DialectCMQ && ok {
			return "", errRange("dialect")
		}
		return topic.DialectMNS, nil
	}
	switch v {
	case "", topic.DialectCMQ:
		return "", nil
	case topic.DialectMNS:
		return topic.DialectMNS, nil
	}
	return "", errRange("dialect")
}

// webhookSecretParam returns the secret asked for: generated, given, or "".
func webhookSecretParam(p Params) (string, error) {
	v, ok := p.Get("webhookSecret")
	if !ok || v == "" {
		return "", nil
	}
	if v == "generate" {
		return push.NewWebhookSecret(), nil
	}
	if _, err := push.ParseWebhookSecret(v); err != nil {
		return "", errRange("webhookSecret")
	}
	return v, nil
}

// applyExtensions applies dialect, a new webhook secret (signing alongside
// the previous one) and retireWebhookSecrets to a subscription.
func applyExtensions(p Params, sub *topic.Subscription, secret string) error {
	dialect, err := dialectParam(p, sub.NotifyContentFormat, sub.Dialect)
	if err != nil {
		return err
	}
	if sub.Protocol == topic.ProtocolQueue && (dialect != "" || secret != "") {
		return errRange("dialect/webhookSecret (http subscriptions only)")
	}
	sub.Dialect = dialect
	if secret != "" {
		sub.WebhookSecrets = append([]string{secret}, sub.WebhookSecrets...)
		if len(sub.WebhookSecrets) > maxWebhookSecrets {
			sub.WebhookSecrets = sub.WebhookSecrets[:maxWebhookSecrets]
		}
	}
	if v, _ := p.Get("retireWebhookSecrets"); v == "1" || strings.EqualFold(v, "true") {
		if len(sub.WebhookSecrets) > 1 {
			sub.WebhookSecrets = sub.WebhookSecrets[:1]
		}
	}
	return nil
}
