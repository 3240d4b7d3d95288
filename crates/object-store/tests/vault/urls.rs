//! Opening vaults from URLs: every scheme, options, and errors that name
//! the problem without echoing secrets. GCS has no emulator here that speaks
//! object_store's dialect, so `gs://` is checked up to building the store.

use todovault_core::Error;
use todovault_object_store::ObjectStoreVault;

fn open(url: &str, options: &[(&str, &str)]) -> Result<ObjectStoreVault, Error> {
    ObjectStoreVault::from_url(url, options.iter().map(|(k, v)| (*k, *v)))
}

fn validation_message(result: Result<ObjectStoreVault, Error>) -> String {
    match result {
        Err(Error::Validation {
            property_names,
            message,
        }) => {
            assert_eq!(property_names, ["url"]);
            message
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn every_scheme_opens() {
    let s3 = open(
        "s3://bucket/team/a",
        &[
            ("aws_access_key_id", "AKIAEXAMPLE"),
            ("aws_secret_access_key", "s3cr3t-value"),
            ("aws_region", "eu-west-1"),
        ],
    )
    .unwrap_or_else(|e| panic!("s3: {e}"));
    assert!(
        s3.description().starts_with("s3://bucket/team/a"),
        "{}",
        s3.description()
    );
    assert!(!format!("{s3:?}").contains("s3cr3t"));

    let gcs = open("gs://bucket/team/a", &[("google_bucket", "bucket")])
        .unwrap_or_else(|e| panic!("gs: {e}"));
    assert!(gcs.description().starts_with("gs://bucket"));

    let azure = open(
        "az://container/team/a",
        &[
            ("azure_storage_account_name", "account"),
            ("azure_storage_account_key", "c2VjcmV0LWtleQ=="),
        ],
    )
    .unwrap_or_else(|e| panic!("az: {e}"));
    assert!(azure.description().starts_with("az://container"));

    open("memory:///", &[]).unwrap_or_else(|e| panic!("memory: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let url = url::Url::from_directory_path(dir.path()).unwrap_or_else(|()| panic!("file url"));
    open(url.as_str(), &[]).unwrap_or_else(|e| panic!("file: {e}"));
}

#[test]
fn bad_urls_and_options_are_validation_errors() {
    let message = validation_message(open("not a url", &[]));
    assert!(message.contains("is not a URL"), "{message}");

    let message = validation_message(open("ftp://host/path", &[]));
    assert!(message.contains("no supported store"), "{message}");

    let message = validation_message(open(
        "s3://bucket",
        &[("aws_secret_acess_key", "typo-secret-value")],
    ));
    assert!(
        message.contains("aws_secret_acess_key"),
        "names the unknown key: {message}"
    );
    assert!(
        !message.contains("typo-secret-value"),
        "never echoes values: {message}"
    );

    let message = validation_message(open("memory:///", &[("aws_region", "x")]));
    assert!(message.contains("takes no options"), "{message}");

    let message = validation_message(open("az://container", &[]));
    assert!(message.contains("cannot be opened"), "{message}");
}

#[test]
fn credentials_in_a_url_are_never_echoed() {
    let result = open(
        "s3://AKIAEXAMPLE:sup3rs3cret@bucket/prefix",
        &[("nonsense_key", "x")],
    );
    let message = validation_message(result);
    assert!(!message.contains("sup3rs3cret"), "{message}");
    let result = open(
        "https://account.blob.core.windows.net/container?sv=2022&sig=S1GNATURE",
        &[("nonsense_key", "x")],
    );
    let message = validation_message(result);
    assert!(!message.contains("S1GNATURE"), "{message}");
}
