//! The part of the generator that needs k8s-openapi: enumerating the resource types of the enabled
//! Kubernetes version and asking schemars for their schemas.
//!
//! Only compiled when one of the `v1_3x` features is enabled.

use k8s_openapi::Resource;
use schemars::{JsonSchema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Map, Value};

use crate::transform::Kinds;

/// The Kubernetes minor version selected by the enabled cargo feature.
#[cfg(feature = "v1_33")]
pub const KUBERNETES_VERSION: &str = "1.33";
#[cfg(feature = "v1_34")]
pub const KUBERNETES_VERSION: &str = "1.34";
#[cfg(feature = "v1_35")]
pub const KUBERNETES_VERSION: &str = "1.35";
#[cfg(feature = "v1_36")]
pub const KUBERNETES_VERSION: &str = "1.36";
#[cfg(feature = "v1_37")]
pub const KUBERNETES_VERSION: &str = "1.37";

/// Raw schemars output for every resource kind of the enabled version.
pub struct Raw {
    pub kinds: Kinds,
    pub defs: Map<String, Value>,
}

fn register<T: Resource + JsonSchema>(generator: &mut SchemaGenerator, kinds: &mut Kinds) {
    let def = T::schema_name().into_owned();
    let reference = generator.subschema_for::<T>();
    let expected = format!("#/$defs/{def}");
    assert_eq!(
        reference.get("$ref").and_then(Value::as_str),
        Some(expected.as_str()),
        "schemars did not return a plain $ref for {def}"
    );
    let previous = kinds
        .entry(T::API_VERSION.to_owned())
        .or_default()
        .insert(T::KIND.to_owned(), def);
    assert!(
        previous.is_none(),
        "duplicate kind {}/{}",
        T::API_VERSION,
        T::KIND
    );
}

/// Lists every type implementing `k8s_openapi::Resource` in k8s-openapi 0.29, with the versions it
/// exists in. Generated from
///
/// ```sh
/// grep -rn '^impl crate::Resource for' ~/.cargo/registry/src/*/k8s-openapi-0.29.0/src/v1_3*
/// ```
///
/// Left out on purpose: the `*List` types and the generic `List<T>` (the CLI expands lists
/// itself), and the `meta/v1` discovery/response types `APIGroup`, `APIGroupList`,
/// `APIResourceList`, `APIVersions` and `Status`, which implement `Resource` in k8s-openapi but are
/// not API kinds one can apply (`kubectl apply` fails with "no matches for kind").
macro_rules! resources {
    ($generator:ident, $kinds:ident; $( $(#[$attr:meta])* $($segment:ident)::+ ,)*) => {
        $(
            $(#[$attr])*
            register::<k8s_openapi::$($segment)::+>(&mut $generator, &mut $kinds);
        )*
    };
}

/// Runs schemars over all resource kinds of the enabled version.
pub fn generate() -> Raw {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let mut kinds = Kinds::new();
    resources! {
        generator, kinds;
        #[cfg(any(feature = "v1_36", feature = "v1_37"))]
        api::admissionregistration::v1::MutatingAdmissionPolicy,
        #[cfg(any(feature = "v1_36", feature = "v1_37"))]
        api::admissionregistration::v1::MutatingAdmissionPolicyBinding,
        api::admissionregistration::v1::MutatingWebhookConfiguration,
        api::admissionregistration::v1::ValidatingAdmissionPolicy,
        api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
        api::admissionregistration::v1::ValidatingWebhookConfiguration,
        api::admissionregistration::v1alpha1::MutatingAdmissionPolicy,
        api::admissionregistration::v1alpha1::MutatingAdmissionPolicyBinding,
        #[cfg(any(feature = "v1_34", feature = "v1_35", feature = "v1_36", feature = "v1_37"))]
        api::admissionregistration::v1beta1::MutatingAdmissionPolicy,
        #[cfg(any(feature = "v1_34", feature = "v1_35", feature = "v1_36", feature = "v1_37"))]
        api::admissionregistration::v1beta1::MutatingAdmissionPolicyBinding,
        #[cfg(feature = "v1_33")]
        api::admissionregistration::v1beta1::ValidatingAdmissionPolicy,
        #[cfg(feature = "v1_33")]
        api::admissionregistration::v1beta1::ValidatingAdmissionPolicyBinding,
        api::apiserverinternal::v1alpha1::StorageVersion,
        api::apps::v1::ControllerRevision,
        api::apps::v1::DaemonSet,
        api::apps::v1::Deployment,
        api::apps::v1::ReplicaSet,
        api::apps::v1::StatefulSet,
        api::authentication::v1::SelfSubjectReview,
        api::authentication::v1::TokenRequest,
        api::authentication::v1::TokenReview,
        api::authorization::v1::LocalSubjectAccessReview,
        api::authorization::v1::SelfSubjectAccessReview,
        api::authorization::v1::SelfSubjectRulesReview,
        api::authorization::v1::SubjectAccessReview,
        api::autoscaling::v1::HorizontalPodAutoscaler,
        api::autoscaling::v1::Scale,
        api::autoscaling::v2::HorizontalPodAutoscaler,
        api::batch::v1::CronJob,
        api::batch::v1::Job,
        api::certificates::v1::CertificateSigningRequest,
        #[cfg(feature = "v1_37")]
        api::certificates::v1::ClusterTrustBundle,
        #[cfg(feature = "v1_37")]
        api::certificates::v1::PodCertificateRequest,
        #[cfg(any(feature = "v1_33", feature = "v1_34", feature = "v1_35", feature = "v1_36"))]
        api::certificates::v1alpha1::ClusterTrustBundle,
        #[cfg(feature = "v1_34")]
        api::certificates::v1alpha1::PodCertificateRequest,
        api::certificates::v1beta1::ClusterTrustBundle,
        #[cfg(any(feature = "v1_35", feature = "v1_36", feature = "v1_37"))]
        api::certificates::v1beta1::PodCertificateRequest,
        api::coordination::v1::Lease,
        api::coordination::v1alpha2::LeaseCandidate,
        api::coordination::v1beta1::LeaseCandidate,
        api::core::v1::Binding,
        api::core::v1::ComponentStatus,
        api::core::v1::ConfigMap,
        api::core::v1::Endpoints,
        api::core::v1::Event,
        api::core::v1::LimitRange,
        api::core::v1::Namespace,
        api::core::v1::Node,
        api::core::v1::PersistentVolume,
        api::core::v1::PersistentVolumeClaim,
        api::core::v1::Pod,
        api::core::v1::PodTemplate,
        api::core::v1::ReplicationController,
        api::core::v1::ResourceQuota,
        api::core::v1::Secret,
        api::core::v1::Service,
        api::core::v1::ServiceAccount,
        api::discovery::v1::EndpointSlice,
        api::events::v1::Event,
        api::flowcontrol::v1::FlowSchema,
        api::flowcontrol::v1::PriorityLevelConfiguration,
        #[cfg(feature = "v1_37")]
        api::lifecycle::v1alpha1::Eviction,
        #[cfg(feature = "v1_37")]
        api::lifecycle::v1alpha1::EvictionRequest,
        api::networking::v1::IPAddress,
        api::networking::v1::Ingress,
        api::networking::v1::IngressClass,
        api::networking::v1::NetworkPolicy,
        api::networking::v1::ServiceCIDR,
        #[cfg(any(feature = "v1_33", feature = "v1_34", feature = "v1_35", feature = "v1_36"))]
        api::networking::v1beta1::IPAddress,
        #[cfg(any(feature = "v1_33", feature = "v1_34", feature = "v1_35", feature = "v1_36"))]
        api::networking::v1beta1::ServiceCIDR,
        api::node::v1::RuntimeClass,
        api::policy::v1::Eviction,
        api::policy::v1::PodDisruptionBudget,
        api::rbac::v1::ClusterRole,
        api::rbac::v1::ClusterRoleBinding,
        api::rbac::v1::Role,
        api::rbac::v1::RoleBinding,
        #[cfg(any(feature = "v1_34", feature = "v1_35", feature = "v1_36", feature = "v1_37"))]
        api::resource::v1::DeviceClass,
        #[cfg(feature = "v1_37")]
        api::resource::v1::DeviceTaintRule,
        #[cfg(any(feature = "v1_34", feature = "v1_35", feature = "v1_36", feature = "v1_37"))]
        api::resource::v1::ResourceClaim,
        #[cfg(any(feature = "v1_34", feature = "v1_35", feature = "v1_36", feature = "v1_37"))]
        api::resource::v1::ResourceClaimTemplate,
        #[cfg(any(feature = "v1_34", feature = "v1_35", feature = "v1_36", feature = "v1_37"))]
        api::resource::v1::ResourceSlice,
        #[cfg(feature = "v1_33")]
        api::resource::v1alpha3::DeviceClass,
        api::resource::v1alpha3::DeviceTaintRule,
        #[cfg(feature = "v1_33")]
        api::resource::v1alpha3::ResourceClaim,
        #[cfg(feature = "v1_33")]
        api::resource::v1alpha3::ResourceClaimTemplate,
        #[cfg(any(feature = "v1_36", feature = "v1_37"))]
        api::resource::v1alpha3::ResourcePoolStatusRequest,
        #[cfg(feature = "v1_33")]
        api::resource::v1alpha3::ResourceSlice,
        api::resource::v1beta1::DeviceClass,
        api::resource::v1beta1::ResourceClaim,
        api::resource::v1beta1::ResourceClaimTemplate,
        api::resource::v1beta1::ResourceSlice,
        api::resource::v1beta2::DeviceClass,
        #[cfg(any(feature = "v1_36", feature = "v1_37"))]
        api::resource::v1beta2::DeviceTaintRule,
        api::resource::v1beta2::ResourceClaim,
        api::resource::v1beta2::ResourceClaimTemplate,
        api::resource::v1beta2::ResourceSlice,
        api::scheduling::v1::PriorityClass,
        #[cfg(feature = "v1_35")]
        api::scheduling::v1alpha1::Workload,
        #[cfg(feature = "v1_36")]
        api::scheduling::v1alpha2::PodGroup,
        #[cfg(feature = "v1_36")]
        api::scheduling::v1alpha2::Workload,
        #[cfg(feature = "v1_37")]
        api::scheduling::v1alpha3::CompositePodGroup,
        #[cfg(feature = "v1_37")]
        api::scheduling::v1alpha3::PodGroup,
        #[cfg(feature = "v1_37")]
        api::scheduling::v1alpha3::Workload,
        #[cfg(feature = "v1_37")]
        api::scheduling::v1beta1::PodGroup,
        #[cfg(feature = "v1_37")]
        api::scheduling::v1beta1::Workload,
        api::storage::v1::CSIDriver,
        api::storage::v1::CSINode,
        api::storage::v1::CSIStorageCapacity,
        api::storage::v1::StorageClass,
        api::storage::v1::VolumeAttachment,
        #[cfg(any(feature = "v1_34", feature = "v1_35", feature = "v1_36", feature = "v1_37"))]
        api::storage::v1::VolumeAttributesClass,
        #[cfg(any(feature = "v1_33", feature = "v1_34"))]
        api::storage::v1alpha1::VolumeAttributesClass,
        #[cfg(any(feature = "v1_33", feature = "v1_34", feature = "v1_35", feature = "v1_36"))]
        api::storage::v1beta1::VolumeAttributesClass,
        #[cfg(feature = "v1_37")]
        api::storagemigration::v1::StorageVersionMigration,
        #[cfg(any(feature = "v1_33", feature = "v1_34"))]
        api::storagemigration::v1alpha1::StorageVersionMigration,
        #[cfg(any(feature = "v1_35", feature = "v1_36", feature = "v1_37"))]
        api::storagemigration::v1beta1::StorageVersionMigration,
        apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
        kube_aggregator::pkg::apis::apiregistration::v1::APIService,
    }
    let defs = generator.take_definitions(false);
    Raw { kinds, defs }
}
