WITH "t1" AS (
  SELECT
    NULLIF(
      CASE
        WHEN COALESCE(
          STARTS_WITH("t0"."member_id", ' ')
          OR STARTS_WITH("t0"."member_id", '	')
          OR STARTS_WITH("t0"."member_id", '')
          OR STARTS_WITH("t0"."member_id", '
')
          OR SUFFIX("t0"."member_id", ' ')
          OR SUFFIX("t0"."member_id", '	')
          OR SUFFIX("t0"."member_id", '')
          OR SUFFIX("t0"."member_id", '
'),
          FALSE
        )
        THEN REGEXP_REPLACE("t0"."member_id", '^[ 	
]+|[ 	
]+$', '', 'g')
        ELSE "t0"."member_id"
      END,
      ''
    ) AS "member_id",
    TRY_CAST(CASE
      WHEN REGEXP_MATCHES(
        NULLIF(
          CASE
            WHEN COALESCE(
              STARTS_WITH("t0"."birth_date", ' ')
              OR STARTS_WITH("t0"."birth_date", '	')
              OR STARTS_WITH("t0"."birth_date", '')
              OR STARTS_WITH("t0"."birth_date", '
')
              OR SUFFIX("t0"."birth_date", ' ')
              OR SUFFIX("t0"."birth_date", '	')
              OR SUFFIX("t0"."birth_date", '')
              OR SUFFIX("t0"."birth_date", '
'),
              FALSE
            )
            THEN REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g')
            ELSE "t0"."birth_date"
          END,
          ''
        ),
        '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
      )
      THEN NULLIF(
        CASE
          WHEN COALESCE(
            STARTS_WITH("t0"."birth_date", ' ')
            OR STARTS_WITH("t0"."birth_date", '	')
            OR STARTS_WITH("t0"."birth_date", '')
            OR STARTS_WITH("t0"."birth_date", '
')
            OR SUFFIX("t0"."birth_date", ' ')
            OR SUFFIX("t0"."birth_date", '	')
            OR SUFFIX("t0"."birth_date", '')
            OR SUFFIX("t0"."birth_date", '
'),
            FALSE
          )
          THEN REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g')
          ELSE "t0"."birth_date"
        END,
        ''
      )
      ELSE CAST(NULL AS TEXT)
    END AS DATE) AS "birth_date",
    NULLIF(
      CASE
        WHEN COALESCE(
          STARTS_WITH("t0"."sex", ' ')
          OR STARTS_WITH("t0"."sex", '	')
          OR STARTS_WITH("t0"."sex", '')
          OR STARTS_WITH("t0"."sex", '
')
          OR SUFFIX("t0"."sex", ' ')
          OR SUFFIX("t0"."sex", '	')
          OR SUFFIX("t0"."sex", '')
          OR SUFFIX("t0"."sex", '
'),
          FALSE
        )
        THEN REGEXP_REPLACE("t0"."sex", '^[ 	
]+|[ 	
]+$', '', 'g')
        ELSE "t0"."sex"
      END,
      ''
    ) AS "sex",
    NULLIF(
      CASE
        WHEN COALESCE(
          STARTS_WITH("t0"."dual_status_code", ' ')
          OR STARTS_WITH("t0"."dual_status_code", '	')
          OR STARTS_WITH("t0"."dual_status_code", '')
          OR STARTS_WITH("t0"."dual_status_code", '
')
          OR SUFFIX("t0"."dual_status_code", ' ')
          OR SUFFIX("t0"."dual_status_code", '	')
          OR SUFFIX("t0"."dual_status_code", '')
          OR SUFFIX("t0"."dual_status_code", '
'),
          FALSE
        )
        THEN REGEXP_REPLACE("t0"."dual_status_code", '^[ 	
]+|[ 	
]+$', '', 'g')
        ELSE "t0"."dual_status_code"
      END,
      ''
    ) AS "dual_status_code",
    CASE
      WHEN LOWER(
        NULLIF(
          CASE
            WHEN COALESCE(
              STARTS_WITH("t0"."esrd", ' ')
              OR STARTS_WITH("t0"."esrd", '	')
              OR STARTS_WITH("t0"."esrd", '')
              OR STARTS_WITH("t0"."esrd", '
')
              OR SUFFIX("t0"."esrd", ' ')
              OR SUFFIX("t0"."esrd", '	')
              OR SUFFIX("t0"."esrd", '')
              OR SUFFIX("t0"."esrd", '
'),
              FALSE
            )
            THEN REGEXP_REPLACE("t0"."esrd", '^[ 	
]+|[ 	
]+$', '', 'g')
            ELSE "t0"."esrd"
          END,
          ''
        )
      ) IN ('true', 't', '1', 'y', 'yes')
      THEN TRUE
      WHEN LOWER(
        NULLIF(
          CASE
            WHEN COALESCE(
              STARTS_WITH("t0"."esrd", ' ')
              OR STARTS_WITH("t0"."esrd", '	')
              OR STARTS_WITH("t0"."esrd", '')
              OR STARTS_WITH("t0"."esrd", '
')
              OR SUFFIX("t0"."esrd", ' ')
              OR SUFFIX("t0"."esrd", '	')
              OR SUFFIX("t0"."esrd", '')
              OR SUFFIX("t0"."esrd", '
'),
              FALSE
            )
            THEN REGEXP_REPLACE("t0"."esrd", '^[ 	
]+|[ 	
]+$', '', 'g')
            ELSE "t0"."esrd"
          END,
          ''
        )
      ) IN ('false', 'f', '0', 'n', 'no')
      THEN FALSE
      ELSE CAST(NULL AS BOOLEAN)
    END AS "esrd",
    NULLIF(
      CONCAT_WS(
        '; ',
        CASE
          WHEN COALESCE(
            (
              NULLIF(
                CASE
                  WHEN COALESCE(
                    STARTS_WITH("t0"."member_id", ' ')
                    OR STARTS_WITH("t0"."member_id", '	')
                    OR STARTS_WITH("t0"."member_id", '')
                    OR STARTS_WITH("t0"."member_id", '
')
                    OR SUFFIX("t0"."member_id", ' ')
                    OR SUFFIX("t0"."member_id", '	')
                    OR SUFFIX("t0"."member_id", '')
                    OR SUFFIX("t0"."member_id", '
'),
                    FALSE
                  )
                  THEN REGEXP_REPLACE("t0"."member_id", '^[ 	
]+|[ 	
]+$', '', 'g')
                  ELSE "t0"."member_id"
                END,
                ''
              ) IS NULL
            )
            AND NOT (
              FALSE
            ),
            FALSE
          )
          THEN 'member_id: required field is empty'
          WHEN COALESCE(FALSE, FALSE)
          THEN 'member_id: not a valid string'
          ELSE CAST(NULL AS TEXT)
        END,
        CASE
          WHEN COALESCE(
            (
              NULLIF(
                CASE
                  WHEN COALESCE(
                    STARTS_WITH("t0"."birth_date", ' ')
                    OR STARTS_WITH("t0"."birth_date", '	')
                    OR STARTS_WITH("t0"."birth_date", '')
                    OR STARTS_WITH("t0"."birth_date", '
')
                    OR SUFFIX("t0"."birth_date", ' ')
                    OR SUFFIX("t0"."birth_date", '	')
                    OR SUFFIX("t0"."birth_date", '')
                    OR SUFFIX("t0"."birth_date", '
'),
                    FALSE
                  )
                  THEN REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g')
                  ELSE "t0"."birth_date"
                END,
                ''
              ) IS NOT NULL
            )
            AND (
              TRY_CAST(CASE
                WHEN REGEXP_MATCHES(
                  NULLIF(
                    CASE
                      WHEN COALESCE(
                        STARTS_WITH("t0"."birth_date", ' ')
                        OR STARTS_WITH("t0"."birth_date", '	')
                        OR STARTS_WITH("t0"."birth_date", '')
                        OR STARTS_WITH("t0"."birth_date", '
')
                        OR SUFFIX("t0"."birth_date", ' ')
                        OR SUFFIX("t0"."birth_date", '	')
                        OR SUFFIX("t0"."birth_date", '')
                        OR SUFFIX("t0"."birth_date", '
'),
                        FALSE
                      )
                      THEN REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g')
                      ELSE "t0"."birth_date"
                    END,
                    ''
                  ),
                  '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
                )
                THEN NULLIF(
                  CASE
                    WHEN COALESCE(
                      STARTS_WITH("t0"."birth_date", ' ')
                      OR STARTS_WITH("t0"."birth_date", '	')
                      OR STARTS_WITH("t0"."birth_date", '')
                      OR STARTS_WITH("t0"."birth_date", '
')
                      OR SUFFIX("t0"."birth_date", ' ')
                      OR SUFFIX("t0"."birth_date", '	')
                      OR SUFFIX("t0"."birth_date", '')
                      OR SUFFIX("t0"."birth_date", '
'),
                      FALSE
                    )
                    THEN REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g')
                    ELSE "t0"."birth_date"
                  END,
                  ''
                )
                ELSE CAST(NULL AS TEXT)
              END AS DATE) IS NULL
            ),
            FALSE
          )
          THEN 'birth_date: not a valid date (YYYY-MM-DD)'
          WHEN COALESCE(
            (
              TRY_CAST(CASE
                WHEN REGEXP_MATCHES(
                  NULLIF(
                    CASE
                      WHEN COALESCE(
                        STARTS_WITH("t0"."birth_date", ' ')
                        OR STARTS_WITH("t0"."birth_date", '	')
                        OR STARTS_WITH("t0"."birth_date", '')
                        OR STARTS_WITH("t0"."birth_date", '
')
                        OR SUFFIX("t0"."birth_date", ' ')
                        OR SUFFIX("t0"."birth_date", '	')
                        OR SUFFIX("t0"."birth_date", '')
                        OR SUFFIX("t0"."birth_date", '
'),
                        FALSE
                      )
                      THEN REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g')
                      ELSE "t0"."birth_date"
                    END,
                    ''
                  ),
                  '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
                )
                THEN NULLIF(
                  CASE
                    WHEN COALESCE(
                      STARTS_WITH("t0"."birth_date", ' ')
                      OR STARTS_WITH("t0"."birth_date", '	')
                      OR STARTS_WITH("t0"."birth_date", '')
                      OR STARTS_WITH("t0"."birth_date", '
')
                      OR SUFFIX("t0"."birth_date", ' ')
                      OR SUFFIX("t0"."birth_date", '	')
                      OR SUFFIX("t0"."birth_date", '')
                      OR SUFFIX("t0"."birth_date", '
'),
                      FALSE
                    )
                    THEN REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g')
                    ELSE "t0"."birth_date"
                  END,
                  ''
                )
                ELSE CAST(NULL AS TEXT)
              END AS DATE) IS NOT NULL
            )
            AND (
              (
                TRY_CAST(CASE
                  WHEN REGEXP_MATCHES(
                    NULLIF(
                      CASE
                        WHEN COALESCE(
                          STARTS_WITH("t0"."birth_date", ' ')
                          OR STARTS_WITH("t0"."birth_date", '	')
                          OR STARTS_WITH("t0"."birth_date", '')
                          OR STARTS_WITH("t0"."birth_date", '
')
                          OR SUFFIX("t0"."birth_date", ' ')
                          OR SUFFIX("t0"."birth_date", '	')
                          OR SUFFIX("t0"."birth_date", '')
                          OR SUFFIX("t0"."birth_date", '
'),
                          FALSE
                        )
                        THEN REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g')
                        ELSE "t0"."birth_date"
                      END,
                      ''
                    ),
                    '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
                  )
                  THEN NULLIF(
                    CASE
                      WHEN COALESCE(
                        STARTS_WITH("t0"."birth_date", ' ')
                        OR STARTS_WITH("t0"."birth_date", '	')
                        OR STARTS_WITH("t0"."birth_date", '')
                        OR STARTS_WITH("t0"."birth_date", '
')
                        OR SUFFIX("t0"."birth_date", ' ')
                        OR SUFFIX("t0"."birth_date", '	')
                        OR SUFFIX("t0"."birth_date", '')
                        OR SUFFIX("t0"."birth_date", '
'),
                        FALSE
                      )
                      THEN REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g')
                      ELSE "t0"."birth_date"
                    END,
                    ''
                  )
                  ELSE CAST(NULL AS TEXT)
                END AS DATE) < CAST('1800-01-01' AS DATE)
              )
              OR (
                TRY_CAST(CASE
                  WHEN REGEXP_MATCHES(
                    NULLIF(
                      CASE
                        WHEN COALESCE(
                          STARTS_WITH("t0"."birth_date", ' ')
                          OR STARTS_WITH("t0"."birth_date", '	')
                          OR STARTS_WITH("t0"."birth_date", '')
                          OR STARTS_WITH("t0"."birth_date", '
')
                          OR SUFFIX("t0"."birth_date", ' ')
                          OR SUFFIX("t0"."birth_date", '	')
                          OR SUFFIX("t0"."birth_date", '')
                          OR SUFFIX("t0"."birth_date", '
'),
                          FALSE
                        )
                        THEN REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g')
                        ELSE "t0"."birth_date"
                      END,
                      ''
                    ),
                    '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
                  )
                  THEN NULLIF(
                    CASE
                      WHEN COALESCE(
                        STARTS_WITH("t0"."birth_date", ' ')
                        OR STARTS_WITH("t0"."birth_date", '	')
                        OR STARTS_WITH("t0"."birth_date", '')
                        OR STARTS_WITH("t0"."birth_date", '
')
                        OR SUFFIX("t0"."birth_date", ' ')
                        OR SUFFIX("t0"."birth_date", '	')
                        OR SUFFIX("t0"."birth_date", '')
                        OR SUFFIX("t0"."birth_date", '
'),
                        FALSE
                      )
                      THEN REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g')
                      ELSE "t0"."birth_date"
                    END,
                    ''
                  )
                  ELSE CAST(NULL AS TEXT)
                END AS DATE) > CAST('2199-12-31' AS DATE)
              )
            ),
            FALSE
          )
          THEN 'birth_date: date outside 1800-01-01 to 2199-12-31'
          ELSE CAST(NULL AS TEXT)
        END,
        CASE
          WHEN COALESCE(FALSE, FALSE)
          THEN 'sex: not a valid string'
          WHEN COALESCE(
            (
              NULLIF(
                CASE
                  WHEN COALESCE(
                    STARTS_WITH("t0"."sex", ' ')
                    OR STARTS_WITH("t0"."sex", '	')
                    OR STARTS_WITH("t0"."sex", '')
                    OR STARTS_WITH("t0"."sex", '
')
                    OR SUFFIX("t0"."sex", ' ')
                    OR SUFFIX("t0"."sex", '	')
                    OR SUFFIX("t0"."sex", '')
                    OR SUFFIX("t0"."sex", '
'),
                    FALSE
                  )
                  THEN REGEXP_REPLACE("t0"."sex", '^[ 	
]+|[ 	
]+$', '', 'g')
                  ELSE "t0"."sex"
                END,
                ''
              ) IS NOT NULL
            )
            AND NOT (
              NULLIF(
                CASE
                  WHEN COALESCE(
                    STARTS_WITH("t0"."sex", ' ')
                    OR STARTS_WITH("t0"."sex", '	')
                    OR STARTS_WITH("t0"."sex", '')
                    OR STARTS_WITH("t0"."sex", '
')
                    OR SUFFIX("t0"."sex", ' ')
                    OR SUFFIX("t0"."sex", '	')
                    OR SUFFIX("t0"."sex", '')
                    OR SUFFIX("t0"."sex", '
'),
                    FALSE
                  )
                  THEN REGEXP_REPLACE("t0"."sex", '^[ 	
]+|[ 	
]+$', '', 'g')
                  ELSE "t0"."sex"
                END,
                ''
              ) IN ('M', 'F', 'U')
            ),
            FALSE
          )
          THEN 'sex: unknown code (allowed: M, F, U)'
          ELSE CAST(NULL AS TEXT)
        END,
        CASE
          WHEN COALESCE(FALSE, FALSE)
          THEN 'dual_status_code: not a valid string'
          WHEN COALESCE(
            (
              NULLIF(
                CASE
                  WHEN COALESCE(
                    STARTS_WITH("t0"."dual_status_code", ' ')
                    OR STARTS_WITH("t0"."dual_status_code", '	')
                    OR STARTS_WITH("t0"."dual_status_code", '')
                    OR STARTS_WITH("t0"."dual_status_code", '
')
                    OR SUFFIX("t0"."dual_status_code", ' ')
                    OR SUFFIX("t0"."dual_status_code", '	')
                    OR SUFFIX("t0"."dual_status_code", '')
                    OR SUFFIX("t0"."dual_status_code", '
'),
                    FALSE
                  )
                  THEN REGEXP_REPLACE("t0"."dual_status_code", '^[ 	
]+|[ 	
]+$', '', 'g')
                  ELSE "t0"."dual_status_code"
                END,
                ''
              ) IS NOT NULL
            )
            AND NOT (
              NULLIF(
                CASE
                  WHEN COALESCE(
                    STARTS_WITH("t0"."dual_status_code", ' ')
                    OR STARTS_WITH("t0"."dual_status_code", '	')
                    OR STARTS_WITH("t0"."dual_status_code", '')
                    OR STARTS_WITH("t0"."dual_status_code", '
')
                    OR SUFFIX("t0"."dual_status_code", ' ')
                    OR SUFFIX("t0"."dual_status_code", '	')
                    OR SUFFIX("t0"."dual_status_code", '')
                    OR SUFFIX("t0"."dual_status_code", '
'),
                    FALSE
                  )
                  THEN REGEXP_REPLACE("t0"."dual_status_code", '^[ 	
]+|[ 	
]+$', '', 'g')
                  ELSE "t0"."dual_status_code"
                END,
                ''
              ) IN ('00', '01', '02', '03', '04', '05', '06', '08', '09', '10', '99', 'NA')
            ),
            FALSE
          )
          THEN 'dual_status_code: unknown code (allowed: 00, 01, 02, 03, 04, 05, 06, 08, 09, 10, 99, NA)'
          ELSE CAST(NULL AS TEXT)
        END,
        CASE
          WHEN COALESCE(
            (
              NULLIF(
                CASE
                  WHEN COALESCE(
                    STARTS_WITH("t0"."esrd", ' ')
                    OR STARTS_WITH("t0"."esrd", '	')
                    OR STARTS_WITH("t0"."esrd", '')
                    OR STARTS_WITH("t0"."esrd", '
')
                    OR SUFFIX("t0"."esrd", ' ')
                    OR SUFFIX("t0"."esrd", '	')
                    OR SUFFIX("t0"."esrd", '')
                    OR SUFFIX("t0"."esrd", '
'),
                    FALSE
                  )
                  THEN REGEXP_REPLACE("t0"."esrd", '^[ 	
]+|[ 	
]+$', '', 'g')
                  ELSE "t0"."esrd"
                END,
                ''
              ) IS NOT NULL
            )
            AND (
              CASE
                WHEN LOWER(
                  NULLIF(
                    CASE
                      WHEN COALESCE(
                        STARTS_WITH("t0"."esrd", ' ')
                        OR STARTS_WITH("t0"."esrd", '	')
                        OR STARTS_WITH("t0"."esrd", '')
                        OR STARTS_WITH("t0"."esrd", '
')
                        OR SUFFIX("t0"."esrd", ' ')
                        OR SUFFIX("t0"."esrd", '	')
                        OR SUFFIX("t0"."esrd", '')
                        OR SUFFIX("t0"."esrd", '
'),
                        FALSE
                      )
                      THEN REGEXP_REPLACE("t0"."esrd", '^[ 	
]+|[ 	
]+$', '', 'g')
                      ELSE "t0"."esrd"
                    END,
                    ''
                  )
                ) IN ('true', 't', '1', 'y', 'yes')
                THEN TRUE
                WHEN LOWER(
                  NULLIF(
                    CASE
                      WHEN COALESCE(
                        STARTS_WITH("t0"."esrd", ' ')
                        OR STARTS_WITH("t0"."esrd", '	')
                        OR STARTS_WITH("t0"."esrd", '')
                        OR STARTS_WITH("t0"."esrd", '
')
                        OR SUFFIX("t0"."esrd", ' ')
                        OR SUFFIX("t0"."esrd", '	')
                        OR SUFFIX("t0"."esrd", '')
                        OR SUFFIX("t0"."esrd", '
'),
                        FALSE
                      )
                      THEN REGEXP_REPLACE("t0"."esrd", '^[ 	
]+|[ 	
]+$', '', 'g')
                      ELSE "t0"."esrd"
                    END,
                    ''
                  )
                ) IN ('false', 'f', '0', 'n', 'no')
                THEN FALSE
                ELSE CAST(NULL AS BOOLEAN)
              END IS NULL
            ),
            FALSE
          )
          THEN 'esrd: not a boolean (true/false, 1/0, Y/N)'
          ELSE CAST(NULL AS TEXT)
        END
      ),
      ''
    ) AS "_reason",
    COALESCE(
      CASE
        WHEN CASE
          WHEN COALESCE(
            (
              NULLIF(
                CASE
                  WHEN COALESCE(
                    STARTS_WITH("t0"."member_id", ' ')
                    OR STARTS_WITH("t0"."member_id", '	')
                    OR STARTS_WITH("t0"."member_id", '')
                    OR STARTS_WITH("t0"."member_id", '
')
                    OR SUFFIX("t0"."member_id", ' ')
                    OR SUFFIX("t0"."member_id", '	')
                    OR SUFFIX("t0"."member_id", '')
                    OR SUFFIX("t0"."member_id", '
'),
                    FALSE
                  )
                  THEN REGEXP_REPLACE("t0"."member_id", '^[ 	
]+|[ 	
]+$', '', 'g')
                  ELSE "t0"."member_id"
                END,
                ''
              ) IS NULL
            )
            AND NOT (
              FALSE
            ),
            FALSE
          )
          THEN 'member_id: required field is empty'
          WHEN COALESCE(FALSE, FALSE)
          THEN 'member_id: not a valid string'
          ELSE CAST(NULL AS TEXT)
        END IS NULL
        THEN CAST(NULL AS TEXT)
        ELSE 'member_id'
      END,
      CASE
        WHEN CASE
          WHEN COALESCE(
            (
              NULLIF(
                CASE
                  WHEN COALESCE(
                    STARTS_WITH("t0"."birth_date", ' ')
                    OR STARTS_WITH("t0"."birth_date", '	')
                    OR STARTS_WITH("t0"."birth_date", '')
                    OR STARTS_WITH("t0"."birth_date", '
')
                    OR SUFFIX("t0"."birth_date", ' ')
                    OR SUFFIX("t0"."birth_date", '	')
                    OR SUFFIX("t0"."birth_date", '')
                    OR SUFFIX("t0"."birth_date", '
'),
                    FALSE
                  )
                  THEN REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g')
                  ELSE "t0"."birth_date"
                END,
                ''
              ) IS NOT NULL
            )
            AND (
              TRY_CAST(CASE
                WHEN REGEXP_MATCHES(
                  NULLIF(
                    CASE
                      WHEN COALESCE(
                        STARTS_WITH("t0"."birth_date", ' ')
                        OR STARTS_WITH("t0"."birth_date", '	')
                        OR STARTS_WITH("t0"."birth_date", '')
                        OR STARTS_WITH("t0"."birth_date", '
')
                        OR SUFFIX("t0"."birth_date", ' ')
                        OR SUFFIX("t0"."birth_date", '	')
                        OR SUFFIX("t0"."birth_date", '')
                        OR SUFFIX("t0"."birth_date", '
'),
                        FALSE
                      )
                      THEN REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g')
                      ELSE "t0"."birth_date"
                    END,
                    ''
                  ),
                  '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
                )
                THEN NULLIF(
                  CASE
                    WHEN COALESCE(
                      STARTS_WITH("t0"."birth_date", ' ')
                      OR STARTS_WITH("t0"."birth_date", '	')
                      OR STARTS_WITH("t0"."birth_date", '')
                      OR STARTS_WITH("t0"."birth_date", '
')
                      OR SUFFIX("t0"."birth_date", ' ')
                      OR SUFFIX("t0"."birth_date", '	')
                      OR SUFFIX("t0"."birth_date", '')
                      OR SUFFIX("t0"."birth_date", '
'),
                      FALSE
                    )
                    THEN REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g')
                    ELSE "t0"."birth_date"
                  END,
                  ''
                )
                ELSE CAST(NULL AS TEXT)
              END AS DATE) IS NULL
            ),
            FALSE
          )
          THEN 'birth_date: not a valid date (YYYY-MM-DD)'
          WHEN COALESCE(
            (
              TRY_CAST(CASE
                WHEN REGEXP_MATCHES(
                  NULLIF(
                    CASE
                      WHEN COALESCE(
                        STARTS_WITH("t0"."birth_date", ' ')
                        OR STARTS_WITH("t0"."birth_date", '	')
                        OR STARTS_WITH("t0"."birth_date", '')
                        OR STARTS_WITH("t0"."birth_date", '
')
                        OR SUFFIX("t0"."birth_date", ' ')
                        OR SUFFIX("t0"."birth_date", '	')
                        OR SUFFIX("t0"."birth_date", '')
                        OR SUFFIX("t0"."birth_date", '
'),
                        FALSE
                      )
                      THEN REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g')
                      ELSE "t0"."birth_date"
                    END,
                    ''
                  ),
                  '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
                )
                THEN NULLIF(
                  CASE
                    WHEN COALESCE(
                      STARTS_WITH("t0"."birth_date", ' ')
                      OR STARTS_WITH("t0"."birth_date", '	')
                      OR STARTS_WITH("t0"."birth_date", '')
                      OR STARTS_WITH("t0"."birth_date", '
')
                      OR SUFFIX("t0"."birth_date", ' ')
                      OR SUFFIX("t0"."birth_date", '	')
                      OR SUFFIX("t0"."birth_date", '')
                      OR SUFFIX("t0"."birth_date", '
'),
                      FALSE
                    )
                    THEN REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g')
                    ELSE "t0"."birth_date"
                  END,
                  ''
                )
                ELSE CAST(NULL AS TEXT)
              END AS DATE) IS NOT NULL
            )
            AND (
              (
                TRY_CAST(CASE
                  WHEN REGEXP_MATCHES(
                    NULLIF(
                      CASE
                        WHEN COALESCE(
                          STARTS_WITH("t0"."birth_date", ' ')
                          OR STARTS_WITH("t0"."birth_date", '	')
                          OR STARTS_WITH("t0"."birth_date", '')
                          OR STARTS_WITH("t0"."birth_date", '
')
                          OR SUFFIX("t0"."birth_date", ' ')
                          OR SUFFIX("t0"."birth_date", '	')
                          OR SUFFIX("t0"."birth_date", '')
                          OR SUFFIX("t0"."birth_date", '
'),
                          FALSE
                        )
                        THEN REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g')
                        ELSE "t0"."birth_date"
                      END,
                      ''
                    ),
                    '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
                  )
                  THEN NULLIF(
                    CASE
                      WHEN COALESCE(
                        STARTS_WITH("t0"."birth_date", ' ')
                        OR STARTS_WITH("t0"."birth_date", '	')
                        OR STARTS_WITH("t0"."birth_date", '')
                        OR STARTS_WITH("t0"."birth_date", '
')
                        OR SUFFIX("t0"."birth_date", ' ')
                        OR SUFFIX("t0"."birth_date", '	')
                        OR SUFFIX("t0"."birth_date", '')
                        OR SUFFIX("t0"."birth_date", '
'),
                        FALSE
                      )
                      THEN REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g')
                      ELSE "t0"."birth_date"
                    END,
                    ''
                  )
                  ELSE CAST(NULL AS TEXT)
                END AS DATE) < CAST('1800-01-01' AS DATE)
              )
              OR (
                TRY_CAST(CASE
                  WHEN REGEXP_MATCHES(
                    NULLIF(
                      CASE
                        WHEN COALESCE(
                          STARTS_WITH("t0"."birth_date", ' ')
                          OR STARTS_WITH("t0"."birth_date", '	')
                          OR STARTS_WITH("t0"."birth_date", '')
                          OR STARTS_WITH("t0"."birth_date", '
')
                          OR SUFFIX("t0"."birth_date", ' ')
                          OR SUFFIX("t0"."birth_date", '	')
                          OR SUFFIX("t0"."birth_date", '')
                          OR SUFFIX("t0"."birth_date", '
'),
                          FALSE
                        )
                        THEN REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g')
                        ELSE "t0"."birth_date"
                      END,
                      ''
                    ),
                    '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
                  )
                  THEN NULLIF(
                    CASE
                      WHEN COALESCE(
                        STARTS_WITH("t0"."birth_date", ' ')
                        OR STARTS_WITH("t0"."birth_date", '	')
                        OR STARTS_WITH("t0"."birth_date", '')
                        OR STARTS_WITH("t0"."birth_date", '
')
                        OR SUFFIX("t0"."birth_date", ' ')
                        OR SUFFIX("t0"."birth_date", '	')
                        OR SUFFIX("t0"."birth_date", '')
                        OR SUFFIX("t0"."birth_date", '
'),
                        FALSE
                      )
                      THEN REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g')
                      ELSE "t0"."birth_date"
                    END,
                    ''
                  )
                  ELSE CAST(NULL AS TEXT)
                END AS DATE) > CAST('2199-12-31' AS DATE)
              )
            ),
            FALSE
          )
          THEN 'birth_date: date outside 1800-01-01 to 2199-12-31'
          ELSE CAST(NULL AS TEXT)
        END IS NULL
        THEN CAST(NULL AS TEXT)
        ELSE 'birth_date'
      END,
      CASE
        WHEN CASE
          WHEN COALESCE(FALSE, FALSE)
          THEN 'sex: not a valid string'
          WHEN COALESCE(
            (
              NULLIF(
                CASE
                  WHEN COALESCE(
                    STARTS_WITH("t0"."sex", ' ')
                    OR STARTS_WITH("t0"."sex", '	')
                    OR STARTS_WITH("t0"."sex", '')
                    OR STARTS_WITH("t0"."sex", '
')
                    OR SUFFIX("t0"."sex", ' ')
                    OR SUFFIX("t0"."sex", '	')
                    OR SUFFIX("t0"."sex", '')
                    OR SUFFIX("t0"."sex", '
'),
                    FALSE
                  )
                  THEN REGEXP_REPLACE("t0"."sex", '^[ 	
]+|[ 	
]+$', '', 'g')
                  ELSE "t0"."sex"
                END,
                ''
              ) IS NOT NULL
            )
            AND NOT (
              NULLIF(
                CASE
                  WHEN COALESCE(
                    STARTS_WITH("t0"."sex", ' ')
                    OR STARTS_WITH("t0"."sex", '	')
                    OR STARTS_WITH("t0"."sex", '')
                    OR STARTS_WITH("t0"."sex", '
')
                    OR SUFFIX("t0"."sex", ' ')
                    OR SUFFIX("t0"."sex", '	')
                    OR SUFFIX("t0"."sex", '')
                    OR SUFFIX("t0"."sex", '
'),
                    FALSE
                  )
                  THEN REGEXP_REPLACE("t0"."sex", '^[ 	
]+|[ 	
]+$', '', 'g')
                  ELSE "t0"."sex"
                END,
                ''
              ) IN ('M', 'F', 'U')
            ),
            FALSE
          )
          THEN 'sex: unknown code (allowed: M, F, U)'
          ELSE CAST(NULL AS TEXT)
        END IS NULL
        THEN CAST(NULL AS TEXT)
        ELSE 'sex'
      END,
      CASE
        WHEN CASE
          WHEN COALESCE(FALSE, FALSE)
          THEN 'dual_status_code: not a valid string'
          WHEN COALESCE(
            (
              NULLIF(
                CASE
                  WHEN COALESCE(
                    STARTS_WITH("t0"."dual_status_code", ' ')
                    OR STARTS_WITH("t0"."dual_status_code", '	')
                    OR STARTS_WITH("t0"."dual_status_code", '')
                    OR STARTS_WITH("t0"."dual_status_code", '
')
                    OR SUFFIX("t0"."dual_status_code", ' ')
                    OR SUFFIX("t0"."dual_status_code", '	')
                    OR SUFFIX("t0"."dual_status_code", '')
                    OR SUFFIX("t0"."dual_status_code", '
'),
                    FALSE
                  )
                  THEN REGEXP_REPLACE("t0"."dual_status_code", '^[ 	
]+|[ 	
]+$', '', 'g')
                  ELSE "t0"."dual_status_code"
                END,
                ''
              ) IS NOT NULL
            )
            AND NOT (
              NULLIF(
                CASE
                  WHEN COALESCE(
                    STARTS_WITH("t0"."dual_status_code", ' ')
                    OR STARTS_WITH("t0"."dual_status_code", '	')
                    OR STARTS_WITH("t0"."dual_status_code", '')
                    OR STARTS_WITH("t0"."dual_status_code", '
')
                    OR SUFFIX("t0"."dual_status_code", ' ')
                    OR SUFFIX("t0"."dual_status_code", '	')
                    OR SUFFIX("t0"."dual_status_code", '')
                    OR SUFFIX("t0"."dual_status_code", '
'),
                    FALSE
                  )
                  THEN REGEXP_REPLACE("t0"."dual_status_code", '^[ 	
]+|[ 	
]+$', '', 'g')
                  ELSE "t0"."dual_status_code"
                END,
                ''
              ) IN ('00', '01', '02', '03', '04', '05', '06', '08', '09', '10', '99', 'NA')
            ),
            FALSE
          )
          THEN 'dual_status_code: unknown code (allowed: 00, 01, 02, 03, 04, 05, 06, 08, 09, 10, 99, NA)'
          ELSE CAST(NULL AS TEXT)
        END IS NULL
        THEN CAST(NULL AS TEXT)
        ELSE 'dual_status_code'
      END,
      CASE
        WHEN CASE
          WHEN COALESCE(
            (
              NULLIF(
                CASE
                  WHEN COALESCE(
                    STARTS_WITH("t0"."esrd", ' ')
                    OR STARTS_WITH("t0"."esrd", '	')
                    OR STARTS_WITH("t0"."esrd", '')
                    OR STARTS_WITH("t0"."esrd", '
')
                    OR SUFFIX("t0"."esrd", ' ')
                    OR SUFFIX("t0"."esrd", '	')
                    OR SUFFIX("t0"."esrd", '')
                    OR SUFFIX("t0"."esrd", '
'),
                    FALSE
                  )
                  THEN REGEXP_REPLACE("t0"."esrd", '^[ 	
]+|[ 	
]+$', '', 'g')
                  ELSE "t0"."esrd"
                END,
                ''
              ) IS NOT NULL
            )
            AND (
              CASE
                WHEN LOWER(
                  NULLIF(
                    CASE
                      WHEN COALESCE(
                        STARTS_WITH("t0"."esrd", ' ')
                        OR STARTS_WITH("t0"."esrd", '	')
                        OR STARTS_WITH("t0"."esrd", '')
                        OR STARTS_WITH("t0"."esrd", '
')
                        OR SUFFIX("t0"."esrd", ' ')
                        OR SUFFIX("t0"."esrd", '	')
                        OR SUFFIX("t0"."esrd", '')
                        OR SUFFIX("t0"."esrd", '
'),
                        FALSE
                      )
                      THEN REGEXP_REPLACE("t0"."esrd", '^[ 	
]+|[ 	
]+$', '', 'g')
                      ELSE "t0"."esrd"
                    END,
                    ''
                  )
                ) IN ('true', 't', '1', 'y', 'yes')
                THEN TRUE
                WHEN LOWER(
                  NULLIF(
                    CASE
                      WHEN COALESCE(
                        STARTS_WITH("t0"."esrd", ' ')
                        OR STARTS_WITH("t0"."esrd", '	')
                        OR STARTS_WITH("t0"."esrd", '')
                        OR STARTS_WITH("t0"."esrd", '
')
                        OR SUFFIX("t0"."esrd", ' ')
                        OR SUFFIX("t0"."esrd", '	')
                        OR SUFFIX("t0"."esrd", '')
                        OR SUFFIX("t0"."esrd", '
'),
                        FALSE
                      )
                      THEN REGEXP_REPLACE("t0"."esrd", '^[ 	
]+|[ 	
]+$', '', 'g')
                      ELSE "t0"."esrd"
                    END,
                    ''
                  )
                ) IN ('false', 'f', '0', 'n', 'no')
                THEN FALSE
                ELSE CAST(NULL AS BOOLEAN)
              END IS NULL
            ),
            FALSE
          )
          THEN 'esrd: not a boolean (true/false, 1/0, Y/N)'
          ELSE CAST(NULL AS TEXT)
        END IS NULL
        THEN CAST(NULL AS TEXT)
        ELSE 'esrd'
      END
    ) AS "_field",
    "t0"."source_file",
    "t0"."source_line",
    "t0"."_record"
  FROM "raw" AS "t0"
), "t4" AS (
  SELECT
    *
  FROM "t1" AS "t2"
  WHERE
    "t2"."_reason" IS NULL
)
SELECT
  "t16"."member_id",
  "t16"."birth_date",
  CAST(NULL AS DATE) AS "death_date",
  "t16"."sex",
  CAST(NULL AS TEXT) AS "race_code",
  CAST(NULL AS TEXT) AS "zip_code",
  CAST(NULL AS TEXT) AS "state_code",
  CAST(NULL AS TEXT) AS "county_fips",
  CAST(NULL AS TEXT) AS "ssa_county_code",
  "t16"."dual_status_code",
  CAST(NULL AS TEXT) AS "orec",
  CAST(NULL AS TEXT) AS "crec",
  "t16"."esrd",
  CAST(NULL AS BOOLEAN) AS "institutional",
  CAST(NULL AS BOOLEAN) AS "medicaid",
  CAST(NULL AS TEXT) AS "mbi",
  'csv' AS "source_format",
  "t16"."source_file",
  "t16"."source_line"
FROM (
  SELECT
    *
  FROM (
    SELECT
      "t14"."member_id",
      "t14"."birth_date",
      "t14"."sex",
      "t14"."dual_status_code",
      "t14"."esrd",
      CASE
        WHEN "t14"."_later"
        THEN 'duplicate key (member_id): first loaded from ' || "t14"."_first_file" || ' line ' || CAST("t14"."_first_line" AS TEXT)
        ELSE "t14"."_reason"
      END AS "_reason",
      CASE WHEN "t14"."_later" THEN 'member_id' ELSE "t14"."_field" END AS "_field",
      "t14"."source_file",
      "t14"."source_line",
      "t14"."_record"
    FROM (
      SELECT
        "t13"."member_id",
        "t13"."birth_date",
        "t13"."sex",
        "t13"."dual_status_code",
        "t13"."esrd",
        "t13"."_reason",
        "t13"."_field",
        "t13"."source_file",
        "t13"."source_line",
        "t13"."_record",
        "t13"."_valid",
        "t13"."_valid"
        AND (
          (
            ROW_NUMBER() OVER (
              PARTITION BY "t13"."_valid", "t13"."member_id"
              ORDER BY "t13"."source_file" ASC, "t13"."source_line" ASC
              ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
            ) - 1
          ) > 0
        ) AS "_later",
        FIRST_VALUE("t13"."source_line") OVER (
          PARTITION BY "t13"."_valid", "t13"."member_id"
          ORDER BY "t13"."source_file" ASC, "t13"."source_line" ASC
          ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
        ) AS "_first_line",
        FIRST_VALUE("t13"."source_file") OVER (
          PARTITION BY "t13"."_valid", "t13"."member_id"
          ORDER BY "t13"."source_file" ASC, "t13"."source_line" ASC
          ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
        ) AS "_first_file"
      FROM (
        SELECT
          "t11"."member_id",
          "t11"."birth_date",
          "t11"."sex",
          "t11"."dual_status_code",
          "t11"."esrd",
          "t11"."_reason",
          "t11"."_field",
          "t11"."source_file",
          "t11"."source_line",
          "t11"."_record",
          "t11"."_reason" IS NULL AS "_valid"
        FROM (
          SELECT
            "t6"."member_id",
            "t6"."birth_date",
            "t6"."sex",
            "t6"."dual_status_code",
            "t6"."esrd",
            "t6"."_reason",
            "t6"."_field",
            "t6"."source_file",
            "t6"."source_line",
            "t6"."_record"
          FROM "t4" AS "t6"
          SEMI JOIN (
            SELECT
              "t7"."member_id"
            FROM (
              SELECT
                "t5"."member_id",
                COUNT(*) AS "_n"
              FROM "t4" AS "t5"
              GROUP BY
                1
            ) AS "t7"
            WHERE
              "t7"."_n" > 1
          ) AS "t9"
            ON "t6"."member_id" = "t9"."member_id"
        ) AS "t11"
      ) AS "t13"
    ) AS "t14"
  ) AS "t15"
  UNION ALL
  SELECT
    *
  FROM (
    SELECT
      *
    FROM (
      SELECT
        *
      FROM "t1" AS "t2"
      WHERE
        "t2"."_reason" IS NOT NULL
    ) AS "t3"
    UNION ALL
    SELECT
      *
    FROM (
      SELECT
        "t6"."member_id",
        "t6"."birth_date",
        "t6"."sex",
        "t6"."dual_status_code",
        "t6"."esrd",
        "t6"."_reason",
        "t6"."_field",
        "t6"."source_file",
        "t6"."source_line",
        "t6"."_record"
      FROM "t4" AS "t6"
      ANTI JOIN (
        SELECT
          "t7"."member_id"
        FROM (
          SELECT
            "t5"."member_id",
            COUNT(*) AS "_n"
          FROM "t4" AS "t5"
          GROUP BY
            1
        ) AS "t7"
        WHERE
          "t7"."_n" > 1
      ) AS "t9"
        ON "t6"."member_id" = "t9"."member_id"
    ) AS "t10"
  ) AS "t12"
) AS "t16"
WHERE
  "t16"."_reason" IS NULL
