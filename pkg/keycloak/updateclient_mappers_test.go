package keycloak_test

import (
	"context"
	"testing"

	"github.com/Nerzal/gocloak/v14"
)

// An update with a client representation read before its protocol mappers
// changed (the byoSecret step marks the client read at the start of the
// reconcile, after the claims step changed its mappers) must not put the
// old mappers back: mappers change only through the mapper verbs.
func TestUpdateClientLeavesMappersAlone(t *testing.T) {
	integration(t)
	ctx := context.Background()
	c, _ := newAdmin(t)
	realm := testRealm(t, c)
	id, err := c.CreateClient(ctx, realm, gocloak.Client{ClientID: gocloak.StringP("mapped"), Protocol: gocloak.StringP("openid-connect")})
	if err != nil {
		t.Fatal(err)
	}
	m := gocloak.ProtocolMapperRepresentation{Name: gocloak.StringP("nauthera-claim-tier"), Protocol: gocloak.StringP("openid-connect"),
		ProtocolMapper: gocloak.StringP("oidc-hardcoded-claim-mapper"),
		Config:         map[string]string{"claim.name": "tier", "claim.value": "gold", "access.token.claim": "true", "id.token.claim": "false"}}
	if err := c.CreateClientMapper(ctx, realm, id, m); err != nil {
		t.Fatal(err)
	}
	stale, err := c.GetClient(ctx, realm, id)
	if err != nil || stale.ProtocolMappers == nil || len(stale.ProtocolMappers) != 1 {
		t.Fatalf("client read: %v %+v", err, stale)
	}
	fixed := stale.ProtocolMappers[0]
	fixed.Config = map[string]string{"claim.name": "tier", "claim.value": "platinum", "access.token.claim": "true", "id.token.claim": "false"}
	if err := c.UpdateClientMapper(ctx, realm, id, fixed); err != nil {
		t.Fatal(err)
	}
	stale.Name = gocloak.StringP("renamed")
	if err := c.UpdateClient(ctx, realm, *stale); err != nil {
		t.Fatal(err)
	}
	after, err := c.GetClient(ctx, realm, id)
	if err != nil {
		t.Fatal(err)
	}
	if gocloak.PString(after.Name) != "renamed" {
		t.Error("the update did not apply")
	}
	if after.ProtocolMappers == nil || len(after.ProtocolMappers) != 1 || after.ProtocolMappers[0].Config["claim.value"] != "platinum" {
		t.Errorf("the update put stale mappers back: %+v", after.ProtocolMappers)
	}
}
