package admission

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/nauthera/nauthera/internal/reconciler"
)

// FinalizerPath is where the AuthClient finalizer webhook is served.
const FinalizerPath = "/mutate-auth-nauthera-io-v1alpha1-authclient"

// +kubebuilder:webhook:path=/mutate-auth-nauthera-io-v1alpha1-authclient,mutating=true,failurePolicy=ignore,sideEffects=None,groups=auth.nauthera.io,resources=authclients,verbs=create,versions=v1alpha1,name=mauthclient.auth.nauthera.io,admissionReviewVersions=v1,timeoutSeconds=5,matchPolicy=Equivalent

// FinalizerAtCreate is the mutating webhook that gives an AuthClient the
// operator's finalizer as it is created, so the object is stored with it
// and the reconciler's AddFinalizer finds nothing to do: one write less per
// new client (a patch of the AuthClient, and the watch event it causes).
//
// The reconciler stays the guard: an AuthClient admitted without this
// webhook (disabled in the chart, unreachable under failurePolicy Ignore,
// created before it existed) gets the finalizer from AddFinalizer before
// anything reaches Keycloak, as before. So the webhook fails open always.
//
// Hand-written over admission.Handler rather than controller-runtime's
// typed Defaulter: the Defaulter decodes the object into this version's Go
// type and diffs it against the request, so fields this version does not
// know, or empty lists it would omit, could be patched away. This handler
// reads only metadata.finalizers and answers with one JSON Patch operation
// that touches nothing else.
type FinalizerAtCreate struct{}

var _ admission.Handler = FinalizerAtCreate{}

// Handle implements admission.Handler.
func (FinalizerAtCreate) Handle(_ context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create {
		return admission.Allowed("")
	}
	var obj metav1.PartialObjectMetadata
	if err := json.Unmarshal(req.Object.Raw, &obj); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if op, ok := addFinalizer(obj.Finalizers); ok {
		return admission.Patched("", op)
	}
	return admission.Allowed("")
}

// addFinalizer is the JSON Patch operation that adds the operator's
// finalizer to finalizers (false: it is there already). Appending with
// "/-" keeps the finalizers of others, and their order.
func addFinalizer(finalizers []string) (jsonpatch.JsonPatchOperation, bool) {
	switch {
	case slices.Contains(finalizers, reconciler.Finalizer):
		return jsonpatch.JsonPatchOperation{}, false
	case len(finalizers) == 0:
		return jsonpatch.NewOperation("add", "/metadata/finalizers", []string{reconciler.Finalizer}), true
	default:
		return jsonpatch.NewOperation("add", "/metadata/finalizers/-", reconciler.Finalizer), true
	}
}
