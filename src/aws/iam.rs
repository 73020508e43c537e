//! IAM: the real ARN (with its path) of a role or user, by name (`migrate --live`, which
//! resolves the paths aws-auth drops).

use aws_sdk_iam::Client;

use crate::aws::AwsError;

/// The ARN IAM has for the user (`user == true`) or role `name`; `None` when IAM answers
/// without one. A principal IAM does not know is an error of kind `NotFound`.
pub async fn principal_arn(
    client: &Client,
    user: bool,
    name: &str,
) -> Result<Option<String>, AwsError> {
    if user {
        client
            .get_user()
            .user_name(name)
            .send()
            .await
            .map(|o| o.user.map(|u| u.arn))
            .map_err(|e| AwsError::from_sdk("GetUser", &e))
    } else {
        client
            .get_role()
            .role_name(name)
            .send()
            .await
            .map(|o| o.role.map(|r| r.arn))
            .map_err(|e| AwsError::from_sdk("GetRole", &e))
    }
}
