package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/coderfleet/coderfleet/internal/awsrules"
)

// setting is one key of one region's effective settings.
type setting struct {
	r   *RegionConfig
	key string
}

// blame returns an Error about a rule several settings break together,
// placed at the setting most likely to have broken it: the first one a
// region's overrides wrote (an override that breaks what the fleet file
// keeps), else the first one written at all, else the first one's nearest
// written parent.
//
// The error sits at the culprit's line; the message also names where each
// other setting of the rule was written, since any of them may be the one
// the user just changed.
func blame(msg, hint string, settings ...setting) *Error {
	ci := culprit(len(settings), func(i int) (Pos, bool) {
		p, ok := settings[i].r.setPos[settings[i].key]
		return p, ok
	})
	var others []string
	for i, o := range settings {
		if i == ci {
			continue
		}
		where := "default"
		if p, ok := o.r.setPos[o.key]; ok {
			where = fmt.Sprintf("%s:%d", p.File, p.Line)
		}
		others = append(others, fmt.Sprintf("%s at %s", o.key, where))
	}
	if len(others) > 0 {
		msg += " (the rule's other settings: " + strings.Join(others, ", ") + ")"
	}
	s := settings[ci]
	return s.r.SettingError(s.key, msg, hint)
}

// culprit picks which of n settings to blame for a rule they break
// together, given where each was written: the first written by a region's
// overrides, else the first written, else the first.
func culprit(n int, at func(int) (Pos, bool)) int {
	for i := range n {
		if p, ok := at(i); ok && p.File != FleetFile {
			return i
		}
	}
	for i := range n {
		if _, ok := at(i); ok {
			return i
		}
	}
	return 0
}

// crossFieldRules checks the rules that tie several settings of region r
// (and of the primary region p, which rotates the LiteLLM key) together.
// Settings are valid one by one when this runs.
func crossFieldRules(r, p *RegionConfig) ErrorList {
	var errs ErrorList
	s, ks, pks := &r.Settings, r.Settings.KeySync, p.Settings.KeySync
	workspaces := len(s.WorkspaceNamespaces) > 0
	rotates := p.Settings.LiteLLM.Enabled

	// A workspace holds the key it synced last. The primary issues a key
	// valid for keyLifetime at each run of rotateSchedule; in the worst
	// case a namespace syncs just before a rotation and next syncs one
	// sync interval after the following one, so the key must outlive the
	// rotation period plus the sync interval (domain-spec A5).
	if workspaces && rotates {
		lifetime, _ := time.ParseDuration(pks.KeyLifetime)
		rotation, never := scheduleGap(pks.RotateSchedule, pks.TimeZone)
		rotateKey := setting{p, "keySync.rotateSchedule"}
		if never {
			errs = append(errs, blame(fmt.Sprintf("rotate schedule %q never runs", pks.RotateSchedule),
				"use a five-field cron expression that fires, such as \"0 */12 * * *\"", rotateKey))
			return errs
		}
		syncKey := setting{r, "keySync.refreshInterval"}
		interval, _ := time.ParseDuration(ks.RefreshInterval)
		how := fmt.Sprintf("refreshInterval %s", ks.RefreshInterval)
		if ks.Mode == "cronjob" {
			syncKey = setting{r, "keySync.syncSchedule"}
			var never bool
			interval, never = scheduleGap(ks.SyncSchedule, ks.TimeZone)
			if never {
				errs = append(errs, blame(fmt.Sprintf("sync schedule %q never runs", ks.SyncSchedule),
					"use a five-field cron expression that fires, such as \"*/15 * * * *\"", syncKey))
				return errs
			}
			how = fmt.Sprintf("syncSchedule %q runs as rarely as every %s in %s", ks.SyncSchedule, formatDuration(interval), ks.TimeZone)
		}
		if rotation+interval >= lifetime {
			errs = append(errs, blame(
				fmt.Sprintf("the key sync interval (%s) plus the rotation period (rotateSchedule %q runs as rarely as every %s in %s) is %s, which is not shorter than the key lifetime %s",
					how, pks.RotateSchedule, formatDuration(rotation), pks.TimeZone, formatDuration(rotation+interval), pks.KeyLifetime),
				"a key must stay valid until the next rotation plus the next sync, or workspaces hold an expired LiteLLM key; sync or rotate more often, or raise keySync.keyLifetime",
				syncKey, rotateKey, setting{p, "keySync.keyLifetime"}))
		}
	}

	// Every region reads the secret the primary writes.
	if workspaces && r != p && ks.SecretID != pks.SecretID {
		errs = append(errs, blame(fmt.Sprintf("secret %q differs from %q, the secret the primary region %s writes the key to", ks.SecretID, pks.SecretID, p.Region.Name),
			"leave keySync.secretID to the fleet file; every region syncs the key the primary rotates",
			setting{r, "keySync.secretID"}))
	}

	// The secret lives in the primary's AWS region, encrypted with one key.
	if r == p && ks.KMSKeyID != "" {
		if err := awsrules.KMSKeyARN(ks.KMSKeyID, p.Region.AWSRegion); err != nil {
			errs = append(errs, r.SettingError("keySync.kmsKeyID", err.Error(), awsrules.HintOf(err)))
		}
	}
	if r != p && ks.KMSKeyID != pks.KMSKeyID {
		errs = append(errs, blame(fmt.Sprintf("KMS key %q differs from %q, the key of the secret the primary region %s writes", ks.KMSKeyID, pks.KMSKeyID, p.Region.Name),
			"leave keySync.kmsKeyID to the fleet file; the roles that read the secret need the key that encrypts it",
			setting{r, "keySync.kmsKeyID"}))
	}

	// Only the primary rotates the key: a proxy region's rotation settings
	// would be ignored while the user believes they apply.
	if r != p {
		for _, key := range []string{"keySync.keyLifetime", "keySync.rotateSchedule", "keySync.rotateRoleARN"} {
			if at, ok := r.setPos[key]; ok && at.File != FleetFile {
				errs = append(errs, r.SettingError(key, fmt.Sprintf("%s is overridden in a proxy region, but only the primary region %s rotates the key", key, p.Region.Name),
					"set it in "+FleetFile+" or in the primary's overrides"))
			}
		}
	}

	// The ExternalSecret and SecretStore kinds come from the External
	// Secrets Operator add-on.
	if eso := s.Addons["external-secrets"]; workspaces && ks.Mode == "externalsecrets" && (eso == nil || !eso.Enabled) {
		errs = append(errs, blame("keySync.mode externalsecrets needs the external-secrets add-on, which is disabled",
			"enable addons.external-secrets, or use keySync.mode: cronjob",
			setting{r, "addons.external-secrets.enabled"}, setting{r, "keySync.mode"}))
	}

	if eso := s.Addons["external-secrets"]; s.Secrets.Mode == SecretsExternal && (eso == nil || !eso.Enabled) {
		errs = append(errs, blame("secrets.mode externalsecrets needs the external-secrets add-on, which is disabled",
			"enable addons.external-secrets, or use secrets.mode: manual and create the Secrets yourself",
			setting{r, "addons.external-secrets.enabled"}, setting{r, "secrets.mode"}))
	}

	// A certificate and load balancer settings are used only by the NLB
	// that exposure: public makes.
	if r.Region.Role == RolePrimary && s.LiteLLM.Enabled && s.LiteLLM.Exposure != "public" {
		for _, key := range []string{"litellm.certificateARN", "litellm.loadBalancer"} {
			if _, written := r.setPos[key]; written {
				errs = append(errs, blame(fmt.Sprintf("%s is set but litellm.exposure is %q: only exposure: public has a load balancer", key, s.LiteLLM.Exposure),
					"remove it, or set litellm.exposure: public to serve LiteLLM at llm.<domain>",
					setting{r, key}, setting{r, "litellm.exposure"}))
			}
		}
	}
	return errs
}

// location returns the IANA time zone name (valid by now), UTC if not.
func location(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}
